//! Pushing to a registry through its HTTP API, with no registry client:
//! blob uploads (POST, then PUT `?digest=`), manifests (PUT with their
//! media type), deletes; and real-shaped images (a gzip'd tar layer, a
//! config naming its diff ID, OCI and Docker manifests and indexes). Plain
//! HTTP only: for test registries on 127.0.0.1. Used by the tests and by
//! `examples/push_sample.rs`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ociledger::id::{Algorithm, Digest};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A registry to push to: `host:port`, and basic-auth credentials if any.
pub struct Pusher {
    pub host: String,
    pub auth: Option<(String, String)>,
}

impl Pusher {
    /// One request with the registry's credentials (if any).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Answer> {
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if let Some((user, password)) = &self.auth {
            all.push((
                "Authorization".to_owned(),
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            ));
        }
        http(&self.host, method, path, &all, body)
    }

    /// Uploads a blob (monolithic: POST then PUT ?digest=); returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::of(Algorithm::Sha256, bytes);
        let start = self
            .request("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], &[])
            .unwrap();
        assert_eq!(
            start.status,
            202,
            "{}",
            String::from_utf8_lossy(&start.body)
        );
        let location = start
            .header("Location")
            .expect("upload Location")
            .to_owned();
        let path = location
            .strip_prefix(&format!("http://{}", self.host))
            .unwrap_or(&location)
            .to_owned();
        let sep = if path.contains('?') { '&' } else { '?' };
        let put = self
            .request(
                "PUT",
                &format!("{path}{sep}digest={digest}"),
                &[("Content-Type", "application/octet-stream")],
                bytes,
            )
            .unwrap();
        assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
        digest
    }

    /// Puts a manifest under `reference` (a tag or its digest); returns its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Digest {
        let answer = self
            .request(
                "PUT",
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("Content-Type", media_type)],
                bytes,
            )
            .unwrap();
        assert_eq!(
            answer.status,
            201,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        Digest::of(Algorithm::Sha256, bytes)
    }

    /// Deletes a manifest by digest (and with it every tag on it).
    pub fn delete_manifest(&self, repo: &str, digest: &Digest) {
        let answer = self
            .request(
                "DELETE",
                &format!("/v2/{repo}/manifests/{digest}"),
                &[],
                &[],
            )
            .unwrap();
        assert_eq!(
            answer.status,
            202,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    /// Pushes a one-layer image for `arch` (OCI or Docker media types);
    /// `salt` makes its content unique.
    pub fn push_image(&self, repo: &str, image: &Image) -> Pushed {
        let config = self.push_blob(repo, &image.config);
        let layer = self.push_blob(repo, &image.layer);
        let (manifest_type, config_type, layer_type) = if image.oci {
            (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
        } else {
            (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER)
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config.to_string(), "size": image.config.len()},
            "layers": [{"mediaType": layer_type, "digest": layer.to_string(), "size": image.layer.len()}],
        }))
        .unwrap();
        let manifest = self.push_manifest(
            repo,
            &Digest::of(Algorithm::Sha256, &body).to_string(),
            manifest_type,
            &body,
        );
        Pushed {
            manifest,
            config,
            media_type: manifest_type,
            size: body.len(),
            bytes: body,
        }
    }

    /// Pushes an index (OCI) or manifest list (Docker) of `entries` under `tag`.
    pub fn push_index(
        &self,
        repo: &str,
        tag: &str,
        oci: bool,
        entries: &[(&Pushed, &str)],
    ) -> Digest {
        let media_type = if oci { OCI_INDEX } else { DOCKER_LIST };
        let body = index_body(oci, entries);
        self.push_manifest(repo, tag, media_type, &body)
    }

    /// Tags an already pushed manifest.
    pub fn tag(&self, repo: &str, tag: &str, pushed: &Pushed) {
        self.push_manifest(repo, tag, pushed.media_type, &pushed.bytes);
    }
}

/// The JSON of an index of `entries` (each a manifest and its platform,
/// `os/arch[/variant]`).
pub fn index_body(oci: bool, entries: &[(&Pushed, &str)]) -> Vec<u8> {
    let media_type = if oci { OCI_INDEX } else { DOCKER_LIST };
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(p, platform)| {
            let parts: Vec<&str> = platform.split('/').collect();
            let mut platform = serde_json::json!({"os": parts[0], "architecture": parts[1]});
            if let Some(v) = parts.get(2) {
                platform["variant"] = serde_json::json!(v);
            }
            serde_json::json!({"mediaType": p.media_type, "digest": p.manifest.to_string(), "size": p.size, "platform": platform})
        })
        .collect();
    serde_json::to_vec(
        &serde_json::json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}),
    )
    .unwrap()
}

/// A pushed single-platform manifest.
#[derive(Clone)]
pub struct Pushed {
    pub manifest: Digest,
    pub config: Digest,
    pub media_type: &'static str,
    pub size: usize,
    pub bytes: Vec<u8>,
}

/// An image's blobs before pushing.
pub struct Image {
    pub oci: bool,
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
}

impl Image {
    /// A real-shaped image: a gzip'd tar with one file as its layer, and a
    /// config whose `rootfs.diff_ids` is the layer's uncompressed digest.
    pub fn new(arch: &str, oci: bool, salt: &str) -> Self {
        let tar = tar_of(
            "hello.txt",
            format!("hello from {arch} ({salt})\n").as_bytes(),
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let layer = gz.finish().unwrap();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["/bin/sh"], "Labels": {"salt": salt}},
            "rootfs": {"type": "layers", "diff_ids": [Digest::of(Algorithm::Sha256, &tar).to_string()]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test"}],
        }))
        .unwrap();
        Self { oci, config, layer }
    }
}

/// A ustar archive of one file.
fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    header[136..147].copy_from_slice(b"14707316000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A blocking plain HTTP/1.1 request to `host` (`host:port`), `Connection: close`.
pub fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_answer(&raw, method == "HEAD")
}

fn parse_answer(raw: &[u8], head: bool) -> std::io::Result<Answer> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let text = String::from_utf8_lossy(&raw[..end]);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked && !head {
        body = dechunk(&body).ok_or_else(bad)?;
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
