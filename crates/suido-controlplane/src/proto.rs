//! Decoding of Kubernetes protobuf request bodies for the few built-in kinds
//! that kubectl's typed commands send that way (`kubectl create secret`,
//! `create configmap`, `create namespace`, `create serviceaccount`,
//! `create role`, `create rolebinding`, ...). Responses are always JSON,
//! which those clients accept.
//!
//! The envelope is the 4-byte magic `k8s\0` followed by a
//! `runtime.Unknown` message whose `raw` field holds the object.

use serde_json::{Map, Value, json};

/// The protobuf media type.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Debug)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

fn fields(buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let no = u32::try_from(tag >> 3).map_err(|_| "field number too large")?;
        let w = match tag & 7 {
            0 => Wire::Varint(varint(buf, &mut pos)?),
            1 => {
                let b = buf.get(pos..pos + 8).ok_or("truncated fixed64")?;
                pos += 8;
                let _: [u8; 8] = b.try_into().map_err(|_| "fixed64")?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| "length")?;
                let end = pos.checked_add(len).ok_or("length overflow")?;
                let b = buf.get(pos..end).ok_or("truncated bytes")?;
                pos = end;
                Wire::Bytes(b)
            }
            5 => {
                let b = buf.get(pos..pos + 4).ok_or("truncated fixed32")?;
                pos += 4;
                {
                    let _: [u8; 4] = b.try_into().map_err(|_| "fixed32")?;
                    Wire::Fixed
                }
            }
            t => return Err(format!("unsupported wire type {t}")),
        };
        out.push((no, w));
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Time,
    MapStr,
    MapB64,
    Msg(&'static [Field]),
}

struct Field {
    no: u32,
    name: &'static str,
    kind: Kind,
    repeated: bool,
}

const fn f(no: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        no,
        name,
        kind,
        repeated: false,
    }
}

const fn r(no: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        no,
        name,
        kind,
        repeated: true,
    }
}

const OWNER_REF: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "uid", Kind::Str),
    f(5, "apiVersion", Kind::Str),
    f(6, "controller", Kind::Bool),
    f(7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "generateName", Kind::Str),
    f(3, "namespace", Kind::Str),
    f(5, "uid", Kind::Str),
    f(6, "resourceVersion", Kind::Str),
    f(7, "generation", Kind::Int),
    f(8, "creationTimestamp", Kind::Time),
    f(11, "labels", Kind::MapStr),
    f(12, "annotations", Kind::MapStr),
    r(13, "ownerReferences", Kind::Msg(OWNER_REF)),
    r(14, "finalizers", Kind::Str),
];

const OBJECT_REF: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(2, "namespace", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "uid", Kind::Str),
    f(5, "apiVersion", Kind::Str),
];

const LOCAL_REF: &[Field] = &[f(1, "name", Kind::Str)];

const POLICY_RULE: &[Field] = &[
    r(1, "verbs", Kind::Str),
    r(2, "apiGroups", Kind::Str),
    r(3, "resources", Kind::Str),
    r(4, "resourceNames", Kind::Str),
    r(5, "nonResourceURLs", Kind::Str),
];

const SUBJECT: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(2, "apiGroup", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "namespace", Kind::Str),
];

const ROLE_REF: &[Field] = &[
    f(1, "apiGroup", Kind::Str),
    f(2, "kind", Kind::Str),
    f(3, "name", Kind::Str),
];

const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "data", Kind::MapStr),
    f(3, "binaryData", Kind::MapB64),
    f(4, "immutable", Kind::Bool),
];

const SECRET: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "data", Kind::MapB64),
    f(3, "type", Kind::Str),
    f(4, "stringData", Kind::MapStr),
    f(5, "immutable", Kind::Bool),
];

const NAMESPACE_SPEC: &[Field] = &[r(1, "finalizers", Kind::Str)];

const NAMESPACE: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "spec", Kind::Msg(NAMESPACE_SPEC)),
];

const SERVICE_ACCOUNT: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    r(2, "secrets", Kind::Msg(OBJECT_REF)),
    r(3, "imagePullSecrets", Kind::Msg(LOCAL_REF)),
    f(4, "automountServiceAccountToken", Kind::Bool),
];

const ROLE: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    r(2, "rules", Kind::Msg(POLICY_RULE)),
];

const BINDING: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    r(2, "subjects", Kind::Msg(SUBJECT)),
    f(3, "roleRef", Kind::Msg(ROLE_REF)),
];

/// Standard base64 with padding.
pub fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

fn map_entry(b: &[u8], bytes_value: bool) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut value = Value::String(String::new());
    for (no, w) in fields(b)? {
        match (no, w) {
            (1, Wire::Bytes(k)) => key = utf8(k)?,
            (2, Wire::Bytes(v)) => {
                value = Value::String(if bytes_value { b64(v) } else { utf8(v)? })
            }
            _ => {}
        }
    }
    Ok((key, value))
}

fn decode_msg(buf: &[u8], schema: &[Field], depth: usize) -> Result<Value, String> {
    if depth > 16 {
        return Err("message nested too deeply".into());
    }
    let mut out = Map::new();
    for (no, w) in fields(buf)? {
        let Some(fd) = schema.iter().find(|fd| fd.no == no) else {
            continue;
        };
        let v = match (fd.kind, w) {
            (Kind::Str, Wire::Bytes(b)) => Value::String(utf8(b)?),
            (Kind::Int, Wire::Varint(n)) => json!(n as i64),
            (Kind::Bool, Wire::Varint(n)) => Value::Bool(n != 0),
            (Kind::Time, Wire::Bytes(b)) => {
                let mut secs = 0i64;
                for (no, w) in fields(b)? {
                    if let (1, Wire::Varint(n)) = (no, w) {
                        secs = n as i64;
                    }
                }
                match jiff::Timestamp::from_second(secs) {
                    Ok(t) => Value::String(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    Err(_) => continue,
                }
            }
            (Kind::MapStr | Kind::MapB64, Wire::Bytes(b)) => {
                let (k, v) = map_entry(b, matches!(fd.kind, Kind::MapB64))?;
                let m = out
                    .entry(fd.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(m) = m.as_object_mut() {
                    m.insert(k, v);
                }
                continue;
            }
            (Kind::Msg(s), Wire::Bytes(b)) => decode_msg(b, s, depth + 1)?,
            _ => return Err(format!("field {} has an unexpected wire type", fd.name)),
        };
        if fd.repeated {
            let a = out
                .entry(fd.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(a) = a.as_array_mut() {
                a.push(v);
            }
        } else {
            out.insert(fd.name.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a protobuf body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or("protobuf body without the k8s envelope")?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (no, w) in fields(rest)? {
        match (no, w) {
            (1, Wire::Bytes(tm)) => {
                for (no, w) in fields(tm)? {
                    match (no, w) {
                        (1, Wire::Bytes(b)) => api_version = utf8(b)?,
                        (2, Wire::Bytes(b)) => kind = utf8(b)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        ("rbac.authorization.k8s.io/v1", "Role" | "ClusterRole") => ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => BINDING,
        _ => {
            return Err(format!(
                "protobuf is not supported for {api_version}/{kind}; send JSON"
            ));
        }
    };
    let mut obj = decode_msg(raw, schema, 0)?;
    obj["apiVersion"] = Value::String(api_version);
    obj["kind"] = Value::String(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(no: u32, wt: u8) -> u8 {
        ((no << 3) as u8) | wt
    }

    fn ld(no: u32, b: &[u8]) -> Vec<u8> {
        let mut v = vec![tag(no, 2), b.len() as u8];
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn decodes_a_secret() {
        let meta = [ld(1, b"t1"), ld(3, b"default")].concat();
        let entry = [ld(1, b"tls.crt"), ld(2, b"abc")].concat();
        let secret = [ld(1, &meta), ld(2, &entry), ld(3, b"kubernetes.io/tls")].concat();
        let tm = [ld(1, b"v1"), ld(2, b"Secret")].concat();
        let body = [b"k8s\0".to_vec(), ld(1, &tm), ld(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["metadata"]["name"], "t1");
        assert_eq!(v["data"]["tls.crt"], "YWJj");
        assert_eq!(v["type"], "kubernetes.io/tls");
        assert_eq!(v["kind"], "Secret");
    }

    #[test]
    fn base64_padding() {
        assert_eq!(b64(b"a"), "YQ==");
        assert_eq!(b64(b"ab"), "YWI=");
        assert_eq!(b64(b""), "");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(b"nope").is_err());
        assert!(decode(b"k8s\0\x0a\xff").is_err());
        assert!(decode(b"k8s\0").is_err());
    }
}
