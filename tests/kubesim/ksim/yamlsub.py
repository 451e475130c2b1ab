"""A small YAML subset for request bodies (`application/yaml`, apply patches written as YAML): one document of
block mappings and sequences, flow collections, plain/single/double-quoted scalars, `|`/`>` block scalars and
comments.  No anchors, tags or multi-line plain scalars.  `load` raises ValueError on what it does not understand."""
import json
import re

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def _scalar(s):
    s = s.strip()
    if s == "" or s in ("~", "null", "Null", "NULL"):
        return None
    if s in ("true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON"):  # YAML 1.1, as go-yaml v2
        return True
    if s in ("false", "False", "FALSE", "n", "N", "no", "No", "NO", "off", "Off", "OFF"):
        return False
    if s.startswith('"'):
        return json.loads(s)
    if s.startswith("'"):
        if not s.endswith("'") or len(s) < 2:
            raise ValueError("unterminated quote: %s" % s)
        return s[1:-1].replace("''", "'")
    if s.startswith(("[", "{")):
        v, rest = _flow(s, 0)
        if s[rest:].strip():
            raise ValueError("trailing characters after %s" % s)
        return v
    if _INT.match(s):
        return int(s)
    if _FLOAT.match(s) and any(c.isdigit() for c in s):
        return float(s)
    return s


def _flow(s, i):
    """Parse a flow collection or scalar at s[i:]; returns (value, next index)."""
    while s[i] == " ":
        i += 1
    if s[i] == "[":
        out, i = [], i + 1
        while True:
            while s[i] in " ,":
                i += 1
            if s[i] == "]":
                return out, i + 1
            v, i = _flow(s, i)
            out.append(v)
    if s[i] == "{":
        out, i = {}, i + 1
        while True:
            while s[i] in " ,":
                i += 1
            if s[i] == "}":
                return out, i + 1
            k, i = _flow_scalar(s, i, ":")
            i += 1
            v, i = _flow(s, i)
            out[k] = v
    return _flow_scalar(s, i, ",]}")


def _flow_scalar(s, i, stops):
    while s[i] == " ":
        i += 1
    if s[i] in "\"'":
        q = s[i]
        j = i + 1
        while s[j] != q or (q == '"' and s[j - 1] == "\\"):
            j += 1
        return _scalar(s[i:j + 1]), j + 1
    j = i
    while j < len(s) and s[j] not in stops:
        j += 1
    return _scalar(s[i:j]), j


def _strip_comment(line):
    out, q = [], None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "\"'" and (i == 0 or line[i - 1] in " :[{,-"):
            q = c
        elif c == "#" and (i == 0 or line[i - 1] == " "):
            break
        out.append(c)
    return "".join(out).rstrip()


def _split_key(text):
    """'key: value' -> (key, value) or None (quoted keys allowed)."""
    if text.startswith(('"', "'")):
        q = text[0]
        j = text.index(q, 1)
        key, rest = _scalar(text[:j + 1]), text[j + 1:]
        if not rest.startswith(":"):
            return None
        return key, rest[1:]
    m = re.match(r"^([^:#\[\]{},]+?):(\s|$)(.*)$", text)
    if not m:
        return None
    return m.group(1).strip(), m.group(3)


def load(text):
    raw = text.split("\n")
    lines = []  # (indent, content, raw index)
    for n, l in enumerate(raw):
        c = _strip_comment(l)
        if not c.strip() or c.strip() in ("---", "..."):
            continue
        lines.append((len(c) - len(c.lstrip(" ")), c.strip(), n))
    if not lines:
        return None
    pos = [0]

    def block_scalar(style, indent, n):
        body = []
        k = n + 1
        ind = None
        while k < len(raw):
            l = raw[k]
            if l.strip() == "":
                body.append("")
                k += 1
                continue
            li = len(l) - len(l.lstrip(" "))
            if li <= indent:
                break
            ind = li if ind is None else ind
            body.append(l[ind:])
            k += 1
        while pos[0] < len(lines) and lines[pos[0]][2] < k:
            pos[0] += 1
        while body and body[-1] == "":
            body.pop()
        keep = style.endswith("+")
        if style.startswith(">"):
            s = " ".join(body)
        else:
            s = "\n".join(body)
        return s + ("\n" if not style.endswith("-") or keep else "")

    def value_after(rest, indent, n):
        rest = rest.strip()
        if rest.startswith(("|", ">")):
            return block_scalar(rest, indent, n)
        if rest == "":
            if pos[0] < len(lines) and (lines[pos[0]][0] > indent or
                                        (lines[pos[0]][0] == indent and lines[pos[0]][1].startswith("- "))):
                return node(lines[pos[0]][0])
            return None
        return _scalar(rest)

    def node(indent):
        ind, content, n = lines[pos[0]]
        if content == "-" or content.startswith("- "):
            out = []
            while pos[0] < len(lines) and lines[pos[0]][0] == indent and (
                    lines[pos[0]][1] == "-" or lines[pos[0]][1].startswith("- ")):
                _, content, n = lines[pos[0]]
                pos[0] += 1
                item = content[1:].strip()
                if item == "":
                    out.append(value_after("", indent, n))
                    continue
                nested = item == "-" or item.startswith("- ")
                kv = _split_key(item) if not item.startswith(("[", "{")) and not nested else None
                if kv is None and not nested:
                    out.append(value_after(item, indent, n))
                    continue
                # a mapping (or sequence) starting on the dash line: it sits at indent + 2 (or deeper)
                sub_indent = indent + 2 + (len(content[1:]) - len(content[1:].lstrip(" ")) - 1)
                lines.insert(pos[0], (sub_indent, item, n))
                out.append(node(sub_indent))
            return out
        out = {}
        while pos[0] < len(lines) and lines[pos[0]][0] == indent:
            _, content, n = lines[pos[0]]
            kv = _split_key(content)
            if kv is None:
                raise ValueError("line %d: expected 'key: value': %s" % (n + 1, content))
            pos[0] += 1
            out[kv[0]] = value_after(kv[1], indent, n)
        return out

    v = node(lines[0][0])
    if pos[0] != len(lines):
        raise ValueError("line %d: unexpected indentation" % (lines[pos[0]][2] + 1))
    return v
