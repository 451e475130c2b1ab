// kbk ui's HTTP server (docs/ui.md): cpp-httplib from Debian, the access token and CSRF checks in front of every
// route, the JSON API over the same library calls and commands as the CLI, runs streamed as server-sent events.
#include <kbk/ui/server.hpp>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>

#include <kbk/archive/location.hpp>
#include <kbk/archive/report.hpp>
#include <kbk/crypto/hash.hpp>
#include <kbk/restore/records.hpp>
#include <kbk/ui/assets.hpp>
#include <kbk/util/strings.hpp>

#include "process.hpp"

namespace kbk::ui {

Result<std::pair<std::string, int>> parse_listen(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      return unexpected(Errc::config, "--listen " + listen + ": expected HOST:PORT");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return unexpected(Errc::config, "--listen " + listen + ": expected HOST:PORT");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    return unexpected(Errc::config, "--listen " + listen + ": expected HOST:PORT (port 0 picks a free one)");
  return std::pair{host, std::stoi(port)};
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

namespace {

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string to_json_text(const json::Value& v) { return json::to_string(v); }

json::Document error_doc(const std::string& message) {
  json::Document d(rapidjson::kObjectType);
  json::set(d, "error", json::make_string(message, d.GetAllocator()), d.GetAllocator());
  return d;
}

int status_for(const Error& e) {
  switch (e.code) {
    case Errc::not_found: return 404;
    case Errc::config:
    case Errc::parse:
    case Errc::invalid: return 400;
    case Errc::precondition: return 409;
    default: return 500;
  }
}

void send_json(httplib::Response& res, const json::Value& v, int status = 200) {
  res.status = status;
  res.set_content(to_json_text(v), "application/json");
}
void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, error_doc(message), status);
}
void send_error(httplib::Response& res, const Error& e) { send_error(res, status_for(e), e.message); }

std::string cookie_value(const httplib::Request& req, const std::string& name) {
  const std::string cookies = req.get_header_value("Cookie");
  for (auto part : util::split(cookies, ';', true)) {
    std::string p(util::trim(part));
    if (p.rfind(name + "=", 0) == 0) return p.substr(name.size() + 1);
  }
  return "";
}

json::Document problems_doc(const std::vector<Problem>& problems) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("valid", problems.empty(), a);
  json::Value list(rapidjson::kArrayType);
  for (const auto& p : problems) {
    json::Value v(rapidjson::kObjectType);
    v.AddMember("line", p.line, a);
    v.AddMember("column", p.column, a);
    v.AddMember("message", json::make_string(p.message, a), a);
    list.PushBack(v, a);
  }
  d.AddMember("problems", list, a);
  return d;
}

struct Job {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::string>> events;  // (event, data)
  bool done = false;
  int exit_code = -1;
  std::string command;
  void push(std::string event, std::string data) {
    {
      std::lock_guard l(m);
      events.emplace_back(std::move(event), std::move(data));
    }
    cv.notify_all();
  }
};

// A private folder for one run's files (the modifier file, --to-dir output), removed afterwards.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string t = std::string(base && *base ? base : "/tmp") + "/kbk-ui-XXXXXX";
    if (::mkdtemp(t.data())) path = t;  // mkdtemp makes it 0700
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

Result<void> write_private(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wx");
  if (!f) return unexpected(Errc::io, path + ": " + std::strerror(errno));
  ::fchmod(::fileno(f), 0600);
  std::fwrite(text.data(), 1, text.size(), f);
  if (std::fclose(f) != 0) return unexpected(Errc::io, path + ": " + std::strerror(errno));
  return {};
}

class ServerImpl final : public Server {
public:
  explicit ServerImpl(Options o) : m_o(std::move(o)) {}
  ~ServerImpl() override { stop_and_join(); }

  Result<void> init() {
    KBK_ASSIGN_OR_RETURN(auto hp, parse_listen(m_o.listen));
    m_host = hp.first;
    const bool tls = !m_o.tls_cert.empty() || !m_o.tls_key.empty();
    if (tls && (m_o.tls_cert.empty() || m_o.tls_key.empty()))
      return unexpected(Errc::config, "--tls-cert and --tls-key go together");
    if (!is_loopback(m_host) && !tls)
      return unexpected(Errc::config, "--listen " + m_o.listen +
                                          ": not a loopback address; serving beyond this machine needs --tls-cert and --tls-key");
    if (m_o.locations.empty()) return unexpected(Errc::config, "no storage location: pass --storage URL (repeatable)");
    if (m_o.token.empty()) m_o.token = hex(crypto::random_bytes(32));
    m_csrf = hex(crypto::random_bytes(32));
    if (tls) {
      for (const auto& f : {m_o.tls_cert, m_o.tls_key})
        if (::access(f.c_str(), R_OK) != 0) return unexpected(Errc::config, f + ": " + std::strerror(errno));
      auto s = std::make_unique<httplib::SSLServer>(m_o.tls_cert.c_str(), m_o.tls_key.c_str());
      if (!s->is_valid()) return unexpected(Errc::config, "--tls-cert/--tls-key: the certificate or key does not load");
      m_http = std::move(s);
    } else {
      m_http = std::make_unique<httplib::Server>();
    }
    routes();
    const int bound = hp.second == 0 ? m_http->bind_to_any_port(m_host)
                                     : (m_http->bind_to_port(m_host, hp.second) ? hp.second : -1);
    if (bound < 0)
      return unexpected(Errc::precondition, "--listen " + m_o.listen + ": cannot listen there (in use or not an address of this machine)");
    std::string shown = m_host.find(':') != std::string::npos ? "[" + m_host + "]" : m_host;
    m_url = std::string(tls ? "https" : "http") + "://" + shown + ":" + std::to_string(bound) + "/?token=" + m_o.token;
    m_thread = std::thread([this] { m_http->listen_after_bind(); });
    return {};
  }

  std::string url() const override { return m_url; }
  void wait() override {
    std::unique_lock l(m_stop_mutex);
    m_stop_cv.wait(l, [&] { return m_stopping; });
  }
  void stop() override {
    {
      std::lock_guard l(m_stop_mutex);
      m_stopping = true;
    }
    m_stop_cv.notify_all();
  }

private:
  void stop_and_join() {
    stop();
    if (m_http) m_http->stop();
    if (m_thread.joinable()) m_thread.join();
  }

  bool token_ok(const httplib::Request& req) const {
    std::string given;
    if (req.has_param("token")) given = req.get_param_value("token");
    const std::string auth = req.get_header_value("Authorization");
    if (given.empty() && auth.rfind("Bearer ", 0) == 0) given = auth.substr(7);
    if (given.empty()) given = cookie_value(req, "kbk_token");
    return !given.empty() && crypto::equal_constant_time(given, m_o.token);
  }

  // State-changing requests: the CSRF token the page got from /api/session, and no other origin.
  std::string csrf_problem(const httplib::Request& req) const {
    const std::string site = req.get_header_value("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin" && site != "none") return "cross-site request refused";
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty()) {
      const std::string host = req.get_header_value("Host");
      if (origin != "http://" + host && origin != "https://" + host) return "cross-origin request refused";
    }
    const std::string csrf = req.get_header_value("X-CSRF-Token");
    if (csrf.empty() || !crypto::equal_constant_time(csrf, m_csrf)) return "missing or wrong X-CSRF-Token";
    return "";
  }

  Result<std::unique_ptr<storage::Backend>> backend(const httplib::Request& req, size_t* index = nullptr) const {
    size_t i = 0;
    if (req.has_param("location")) {
      const std::string v = req.get_param_value("location");
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || std::stoul(v) >= m_o.locations.size())
        return unexpected(Errc::config, "location " + v + ": no such location");
      i = std::stoul(v);
    }
    if (index) *index = i;
    return m_o.locations[i].open();
  }

  std::vector<std::string> base_args(size_t location) const {
    std::vector<std::string> a = m_o.global_args;
    a.push_back("--storage=" + m_o.locations[location].url);
    if (!m_o.encryption_key_file.empty()) a.push_back("--encryption-key-file=" + m_o.encryption_key_file);
    return a;
  }

  static void add_headers(httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Cache-Control", "no-store");
  }

  void routes() {
    m_http->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      add_headers(res);
      if (!token_ok(req)) {
        send_error(res, 401, "a valid access token is required: open the URL kbk ui printed");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.method != "GET" && req.method != "HEAD") {
        if (auto p = csrf_problem(req); !p.empty()) {
          send_error(res, 403, p);
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    auto asset = [this](const std::string& path, httplib::Response& res) {
      const Asset* a = find_asset(path);
      if (!a) return send_error(res, 404, "no asset " + path);
      res.set_content(std::string(reinterpret_cast<const char*>(a->data), a->size), a->content_type);
    };
    m_http->Get("/", [this, asset](const httplib::Request& req, httplib::Response& res) {
      if (req.has_param("token"))  // the page's later requests carry the token in a cookie only this origin sees
        res.set_header("Set-Cookie", "kbk_token=" + m_o.token + "; Path=/; HttpOnly; SameSite=Strict");
      asset("index.html", res);
    });
    m_http->Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    m_http->Get(R"(/assets/([A-Za-z0-9._-]+))", [asset](const httplib::Request& req, httplib::Response& res) {
      asset(req.matches[1], res);
    });

    m_http->Get("/api/session", [this](const httplib::Request&, httplib::Response& res) {
      json::Document d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      d.AddMember("csrfToken", json::make_string(m_csrf, a), a);
      json::Value locs(rapidjson::kArrayType);
      for (size_t i = 0; i < m_o.locations.size(); ++i) {
        json::Value l(rapidjson::kObjectType);
        l.AddMember("index", static_cast<uint64_t>(i), a);
        l.AddMember("url", json::make_string(m_o.locations[i].url, a), a);
        locs.PushBack(l, a);
      }
      d.AddMember("locations", locs, a);
      d.AddMember("cluster", static_cast<bool>(m_o.cluster), a);
      send_json(res, d);
    });

    m_http->Get("/api/backups", [this](const httplib::Request& req, httplib::Response& res) {
      auto b = backend(req);
      if (!b) return send_error(res, b.error());
      auto listed = archive::list_backups(**b);
      if (!listed) return send_error(res, listed.error());
      send_json(res, archive::backup_list_to_json(*listed));
    });
    m_http->Get(R"(/api/backups/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      auto b = backend(req);
      if (!b) return send_error(res, b.error());
      auto loc = archive::open_backup(**b, req.matches[1], m_o.encryption_key.get(), archive::NeedKey::no);
      if (!loc) return send_error(res, loc.error());
      auto d = archive::describe_to_json(**b, *loc, req.get_param_value("details") == "true");
      if (!d) return send_error(res, d.error());
      send_json(res, *d);
    });
    m_http->Get(R"(/api/backups/([^/]+)/contents)", [this](const httplib::Request& req, httplib::Response& res) {
      auto b = backend(req);
      if (!b) return send_error(res, b.error());
      auto loc = archive::open_backup(**b, req.matches[1], m_o.encryption_key.get(), archive::NeedKey::yes);
      if (!loc) return send_error(res, loc.error());
      auto d = archive::contents_to_json(**b, *loc);
      if (!d) return send_error(res, d.error());
      send_json(res, *d);
    });
    m_http->Get(R"(/api/backups/([^/]+)/object)", [this](const httplib::Request& req, httplib::Response& res) {
      auto b = backend(req);
      if (!b) return send_error(res, b.error());
      auto loc = archive::open_backup(**b, req.matches[1], m_o.encryption_key.get(), archive::NeedKey::yes);
      if (!loc) return send_error(res, loc.error());
      auto obj = archive::find_object(**b, *loc, req.get_param_value("ref"));
      if (!obj) return send_error(res, obj.error());
      if (req.get_param_value("format") == "yaml") return res.set_content(json::to_yaml(*obj), "text/yaml");
      send_json(res, *obj);
    });
    m_http->Get(R"(/api/backups/([^/]+)/logs)", [this](const httplib::Request& req, httplib::Response& res) {
      run_read(req, res, {"backup", "logs", std::string(req.matches[1]), "-o", "json"}, {0});
    });
    m_http->Get("/api/diff", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string from = req.get_param_value("from"), to = req.get_param_value("to");
      const bool live = req.get_param_value("live") == "true";
      if (!archive::valid_backup_name(from) || (!live && !archive::valid_backup_name(to)))
        return send_error(res, 400, "from and to (or live=true) must name backups");
      std::vector<std::string> args{"diff", "backup", from};
      args.push_back(live ? "--live" : to);
      if (req.has_param("name")) args.push_back("--include-names=" + req.get_param_value("name"));
      run_diff(req, res, args);
    });
    m_http->Get("/api/restores", [this](const httplib::Request& req, httplib::Response& res) {
      auto b = backend(req);
      if (!b) return send_error(res, b.error());
      auto names = restore::list_restore_names(**b);
      if (!names) return send_error(res, names.error());
      std::vector<json::Document> records;
      for (const auto& n : *names)
        if (auto m = restore::read_restore_record(**b, n)) records.push_back(std::move(*m));
      send_json(res, restore::restore_list_to_json(records));
    });
    m_http->Get(R"(/api/restores/([^/]+)/logs)", [this](const httplib::Request& req, httplib::Response& res) {
      run_read(req, res, {"restore", "logs", std::string(req.matches[1]), "-o", "json"}, {0});
    });
    m_http->Get(R"(/api/restores/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      auto b = backend(req);
      if (!b) return send_error(res, b.error());
      auto r = restore::load_restore_record(**b, req.matches[1], req.get_param_value("details") == "true");
      if (!r) {
        if (r.error().is(Errc::not_found))
          return send_error(res, 404, "no restore " + std::string(req.matches[1]) + " in " + (*b)->display_url());
        return send_error(res, r.error());
      }
      send_json(res, restore::restore_describe_to_json(*r));
    });

    m_http->Post("/api/validate", [](const httplib::Request& req, httplib::Response& res) {
      auto body = json::parse(req.body, "request body");
      if (!body || !body->IsObject()) return send_error(res, 400, "expected a JSON object");
      if (const json::Value* m = json::find(*body, "modifiers"); m && m->IsString())
        return send_json(res, problems_doc(validate_modifiers(m->GetString())));
      const std::string text = json::get_string(*body, {"text"});
      auto d = problems_doc(validate_patch(json::get_string(*body, {"kind"}), text));
      if (json::find(d, "valid")->GetBool())  // the patch as JSON: the page writes an RFC 6902 list into the file
        if (auto v = json::parse_yaml(text, "patch")) d.AddMember("value", json::Value(*v, d.GetAllocator()), d.GetAllocator());
      send_json(res, d);
    });
    m_http->Post("/api/command", [this](const httplib::Request& req, httplib::Response& res) {
      auto body = json::parse(req.body, "request body");
      if (!body) return send_error(res, 400, body.error().message);
      size_t loc = 0;
      if (auto b = backend(req, &loc); !b) return send_error(res, b.error());
      auto c = restore_command(*body, "MODIFIERS.yaml", m_o.locations[loc].url);
      if (!c) return send_error(res, c.error());
      json::Document d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      d.AddMember("command", json::make_string(c->display, a), a);
      d.AddMember("modifiers", json::make_string(c->modifiers, a), a);
      send_json(res, d);
    });
    m_http->Post("/api/preview", [this](const httplib::Request& req, httplib::Response& res) { preview(req, res); });
    m_http->Post("/api/restores", [this](const httplib::Request& req, httplib::Response& res) { start_run(req, res, true); });
    m_http->Post("/api/backups", [this](const httplib::Request& req, httplib::Response& res) { start_run(req, res, false); });
    m_http->Get(R"(/api/jobs/(\d+)/events)", [this](const httplib::Request& req, httplib::Response& res) {
      auto job = find_job(req.matches[1]);
      if (!job) return send_error(res, 404, "no job " + std::string(req.matches[1]));
      auto next = std::make_shared<size_t>(0);
      res.set_header("X-Accel-Buffering", "no");
      res.set_chunked_content_provider("text/event-stream", [job, next](size_t, httplib::DataSink& sink) {
        std::unique_lock l(job->m);
        job->cv.wait_for(l, std::chrono::seconds(15), [&] { return job->events.size() > *next || job->done; });
        std::string out;
        while (*next < job->events.size()) {
          const auto& [ev, data] = job->events[(*next)++];
          out += "event: " + ev + "\ndata: " + data + "\n\n";
        }
        const bool finished = job->done && *next == job->events.size();
        l.unlock();
        if (out.empty() && !finished) out = ": keep-alive\n\n";
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (finished) sink.done();
        return true;
      });
    });
  }

  std::shared_ptr<Job> find_job(const std::string& id) {
    std::lock_guard l(m_jobs_mutex);
    auto it = m_jobs.find(id);
    return it == m_jobs.end() ? nullptr : it->second;
  }

  // A read-only command run for the page: its -o json document, or its last stderr line as the error.
  void run_read(const httplib::Request& req, httplib::Response& res, std::vector<std::string> args,
                std::vector<int> ok_codes) {
    size_t loc = 0;
    if (auto b = backend(req, &loc); !b) return send_error(res, b.error());
    auto base = base_args(loc);
    args.insert(args.end(), base.begin(), base.end());
    auto r = run_process(m_o.kbk_exe, args);
    if (!r) return send_error(res, r.error());
    if (std::find(ok_codes.begin(), ok_codes.end(), r->exit_code) == ok_codes.end())
      return send_error(res, r->exit_code == 3 ? 400 : r->exit_code == 4 ? 409 : 500, last_line(r->err));
    res.set_content(r->out, "application/json");
  }

  static std::string last_line(const std::string& err) {
    std::string t(util::trim(err));
    auto nl = t.rfind('\n');
    std::string line = nl == std::string::npos ? t : t.substr(nl + 1);
    if (line.rfind("error: ", 0) == 0) line = line.substr(7);
    return line.empty() ? "the command failed" : line;
  }

  // `kbk diff` twice: its -o json document and its text (the unified YAML diff), as {"diff": ..., "text": ...}.
  void run_diff(const httplib::Request& req, httplib::Response& res, std::vector<std::string> args) {
    size_t loc = 0;
    if (auto b = backend(req, &loc); !b) return send_error(res, b.error());
    auto base = base_args(loc);
    args.insert(args.end(), base.begin(), base.end());
    auto text = run_process(m_o.kbk_exe, args);
    std::vector<std::string> jargs = args;
    jargs.insert(jargs.end(), {"-o", "json"});
    auto js = run_process(m_o.kbk_exe, jargs);
    if (!text || !js) return send_error(res, !text ? text.error() : js.error());
    if (js->exit_code > 2) return send_error(res, js->exit_code == 3 ? 400 : 409, last_line(js->err));
    auto doc = json::parse(js->out, "kbk diff -o json");
    if (!doc) return send_error(res, doc.error());
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("diff", json::Value(*doc, a), a);
    d.AddMember("text", json::make_string(text->out, a), a);
    send_json(res, d);
  }

  // What the composed restore would apply: restore create --to-dir into a private folder, then kbk diff of the
  // backup (as the restore would map its namespaces) against that folder.
  void preview(const httplib::Request& req, httplib::Response& res) {
    auto body = json::parse(req.body, "request body");
    if (!body) return send_error(res, 400, body.error().message);
    size_t loc = 0;
    if (auto b = backend(req, &loc); !b) return send_error(res, b.error());
    TempDir tmp;
    if (tmp.path.empty()) return send_error(res, 500, "cannot make a temporary folder");
    auto c = restore_command(*body, tmp.path + "/modifiers.yaml", m_o.locations[loc].url);
    if (!c) return send_error(res, c.error());
    if (!c->modifiers.empty())
      if (auto w = write_private(tmp.path + "/modifiers.yaml", c->modifiers); !w) return send_error(res, w.error());
    std::vector<std::string> args = c->args;
    args.erase(std::remove_if(args.begin(), args.end(), [](const std::string& s) { return s.rfind("--storage=", 0) == 0; }),
               args.end());
    auto base = base_args(loc);
    args.insert(args.end(), base.begin(), base.end());
    args.push_back("--to-dir=" + tmp.path + "/out");
    args.push_back("-o");
    args.push_back("json");
    // The preview's name (restore create takes it as a positional): "preview", whatever the spec named.
    if (args.size() > 2 && !args[2].empty() && args[2][0] != '-') args[2] = "preview";
    else args.insert(args.begin() + 2, "preview");
    auto r = run_process(m_o.kbk_exe, args);
    if (!r) return send_error(res, r.error());
    if (r->exit_code != 0 && r->exit_code != 2) return send_error(res, r->exit_code == 3 ? 400 : 409, last_line(r->err));
    std::vector<std::string> dargs{"diff", "backup", "--to-dir=" + tmp.path + "/out"};
    for (const auto& a : c->args)
      for (const char* f : {"--include-namespaces=", "--exclude-namespaces=", "--include-resources=", "--exclude-resources=",
                            "--include-names=", "--exclude-names=", "--selector=", "--or-selector=", "--namespace-mappings="})
        if (a.rfind(f, 0) == 0) dargs.push_back(a);
    const std::string backup = json::get_string(*body, {"backup"});
    if (!archive::valid_backup_name(backup)) return send_error(res, 400, "backup: " + backup + " is not a backup name");
    dargs.insert(dargs.begin() + 2, backup);
    run_diff(req, res, dargs);
    if (res.status == 200) {
      auto d = json::parse(res.body, "preview");
      if (d) {
        auto& a = d->GetAllocator();
        // The folder is private and gone after this request: its sides are named "restore" in the text.
        if (json::Value* text = json::find(*d, "text"); text && text->IsString()) {
          std::string t = text->GetString();
          const std::string folder = tmp.path + "/out";
          for (size_t at; (at = t.find(folder)) != std::string::npos;) t.replace(at, folder.size(), "restore");
          *text = json::make_string(t, a);
        }
        d->AddMember("command", json::make_string(c->display, a), a);
        if (auto restored = json::parse(r->out, "restore create -o json"))
          d->AddMember("restore", json::Value(*restored, a), a);
        send_json(res, *d);
      }
    }
  }

  void start_run(const httplib::Request& req, httplib::Response& res, bool is_restore) {
    auto body = json::parse(req.body, "request body");
    if (!body || !body->IsObject()) return send_error(res, 400, "expected a JSON object");
    size_t loc = 0;
    if (auto b = backend(req, &loc); !b) return send_error(res, b.error());
    auto tmp = std::make_shared<TempDir>();
    if (tmp->path.empty()) return send_error(res, 500, "cannot make a temporary folder");
    auto c = is_restore ? restore_command(*body, tmp->path + "/modifiers.yaml", m_o.locations[loc].url)
                        : backup_command(*body, m_o.locations[loc].url);
    if (!c) return send_error(res, c.error());
    if (!c->modifiers.empty())
      if (auto w = write_private(tmp->path + "/modifiers.yaml", c->modifiers); !w) return send_error(res, w.error());
    std::vector<std::string> args = c->args;
    const std::string dry = json::get_string(*body, {"dryRun"});
    if (is_restore && !dry.empty()) {
      if (dry != "server" && dry != "client") return send_error(res, 400, "dryRun: expected server or client");
      args.push_back("--dry-run=" + dry);
    }
    std::vector<std::string> globals = m_o.global_args;
    if (!m_o.encryption_key_file.empty()) globals.push_back("--encryption-key-file=" + m_o.encryption_key_file);
    args.insert(args.end(), globals.begin(), globals.end());
    args.insert(args.end(), {"--progress=json", "-o", "json"});
    auto job = std::make_shared<Job>();
    job->command = c->display + (is_restore && !dry.empty() ? " --dry-run=" + dry : "");
    std::string id;
    {
      std::lock_guard l(m_jobs_mutex);
      id = std::to_string(++m_next_job);
      m_jobs[id] = job;
    }
    const std::string exe = m_o.kbk_exe;
    std::thread([job, tmp, exe, args] {
      auto r = run_process(exe, args, [&](const std::string& line) {
        if (!line.empty() && line[0] == '{') job->push("progress", line);
        else if (!line.empty()) job->push("log", to_json_text(error_doc(line)));
      });
      // One line of JSON per event (an SSE data field ends at a line break).
      std::string result = "null";
      if (r && !util::trim(r->out).empty())
        if (auto doc = json::parse(r->out, "result")) result = to_json_text(*doc);
      json::Document end(rapidjson::kObjectType);
      auto& a = end.GetAllocator();
      end.AddMember("exitCode", r ? r->exit_code : 1, a);
      if (!r) end.AddMember("error", json::make_string(r.error().message, a), a);
      job->push("result", result);
      {
        std::lock_guard l(job->m);
        job->exit_code = r ? r->exit_code : 1;
        job->events.emplace_back("end", to_json_text(end));
        job->done = true;
      }
      job->cv.notify_all();
    }).detach();
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("job", json::make_string(id, a), a);
    d.AddMember("command", json::make_string(job->command, a), a);
    d.AddMember("events", json::make_string("/api/jobs/" + id + "/events", a), a);
    send_json(res, d, 202);
  }

  Options m_o;
  std::string m_host, m_url, m_csrf;
  std::unique_ptr<httplib::Server> m_http;
  std::thread m_thread;
  std::mutex m_stop_mutex;
  std::condition_variable m_stop_cv;
  bool m_stopping = false;
  std::mutex m_jobs_mutex;
  std::map<std::string, std::shared_ptr<Job>> m_jobs;
  uint64_t m_next_job = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(Options options) {
  auto s = std::make_unique<ServerImpl>(std::move(options));
  KBK_TRY(s->init());
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace kbk::ui
