// The s3:// backend: any S3-compatible store (AWS, MinIO, Ceph RGW, s3rver) behind storage::Backend.
//
// Location: s3://BUCKET[/PREFIX][?key=value&...]. Settings come from URL query options and OpenOptions::settings
// (flags), with or without an "s3-" prefix (endpoint= and s3-endpoint= are the same); the URL wins:
//   endpoint=URL        http(s)://host[:port] of the S3 API (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
//                       the profile's endpoint_url, else https://s3.REGION.amazonaws.com)
//   region=NAME         (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1)
//   addressing=auto|path|virtual   (path-style=true is addressing=path). auto: path-style for IP-address and
//                       localhost endpoints and for bucket names that are not DNS-safe, virtual-host otherwise
//   ca-bundle=FILE      PEM CAs to trust (default AWS_CA_BUNDLE, the profile's ca_bundle)
//   insecure-tls=true   skip TLS verification (test setups only)
//   profile=NAME        AWS profile (default AWS_PROFILE, "default")
//   part-size=BYTES     first multipart part size (default 16 MiB, at least 5 MiB)
//   upload-concurrency=N  parts uploaded at once (default 4)
//   max-retries=N, retry-backoff=SECONDS  retry policy for 5xx, SlowDown, RequestTimeout, dropped connections
//   object-lock=true    send Content-MD5 on every write (buckets with S3 Object Lock require it)
//   list-delimiter=false  list_prefixes() from a full listing instead of delimiter=/ (for s3rver 3.7, whose
//                       delimiter listing drops folders that hold only sub-folders)
//   payload-signing=auto|always|never  auto: UNSIGNED-PAYLOAD over https, the SHA-256 of the body over http
//
// Behaviour: every PUT carries a Content-Length (streams go through multipart upload once they exceed one
// part); IfExists::fail checks HEAD and sends If-None-Match: *; reads are ranged GETs of 8 MiB with If-Match on
// the first ETag, so an object replaced mid-read is an error, not a silent mix; a 301 or x-amz-bucket-region
// answer switches the region once, with a warning naming the right one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <kbk/http/http.hpp>
#include <kbk/storage/aws.hpp>
#include <kbk/storage/backend.hpp>

namespace kbk::storage {

enum class Addressing { automatic, path, virtual_host };
enum class PayloadSigning { automatic, always, never };

struct S3Settings {
  std::string bucket;
  std::string prefix;        // "" or "a/b/" (always ends with '/')
  std::string endpoint;      // "http(s)://host[:port]", no trailing slash; "" until resolved
  std::string region;
  std::string profile;
  Addressing addressing = Addressing::automatic;
  std::string ca_bundle;
  bool insecure_tls = false;
  uint64_t part_size = 16ull << 20;
  int upload_concurrency = 4;
  int max_retries = 6;
  double retry_backoff_seconds = 0.2;
  bool object_lock = false;
  bool delimiter_listing = true;
  PayloadSigning payload_signing = PayloadSigning::automatic;
  double timeout_seconds = 0;  // per request, 0 = none (stalls still time out)
};

// What another process needs to reach an S3 location by itself (Backend::s3_access(), docs/mover.md section 6).
struct S3Access {
  S3Settings settings;
  std::string ca_pem;                                    // the ca-bundle's PEM ("" = the system store)
  std::shared_ptr<aws::CredentialsProvider> credentials;
  uint64_t limit_upload_bytes_per_second = 0;            // the caps in force now (0 = none)
  uint64_t limit_download_bytes_per_second = 0;
};

// Parses the URL and settings and fills the rest from the AWS configuration (endpoint, region, CA bundle).
// Errc::config names the bad part.
Result<S3Settings> resolve_s3_settings(const std::string& url, const OpenOptions& options,
                                       const aws::Config& config);

// The registered factory (process environment, AWS CLI credential chain, libcurl).
Result<std::unique_ptr<Backend>> make_s3_backend(const std::string& url, const OpenOptions& options);
// Same with a given environment (tests).
Result<std::unique_ptr<Backend>> make_s3_backend(const std::string& url, const OpenOptions& options,
                                                 const aws::Environment& env);
// From an S3Access (the in-pod mover): no environment, no AWS files; the caps it names are applied.
Result<std::unique_ptr<Backend>> make_s3_backend(const S3Access& access);
// Fully injected (tests drive a fake transport or a fake server with fixed credentials).
std::unique_ptr<Backend> make_s3_backend(S3Settings settings, std::shared_ptr<aws::CredentialsProvider> credentials,
                                         std::shared_ptr<http::Transport> transport);

}  // namespace kbk::storage
