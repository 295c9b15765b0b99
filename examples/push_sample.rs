//! Pushes a small multi-arch sample to a registry, through the registry's
//! HTTP API (plain HTTP: a local test registry), for trying `ociledger scan`:
//!
//! ```sh
//! docker-registry serve config.yml &         # or: docker run -d -p 5000:5000 registry:2
//! cargo run --example push_sample -- 127.0.0.1:5000/demo/app      # version 1
//! ociledger scan --plain-http 127.0.0.1:5000/demo/app
//! cargo run --example push_sample -- 127.0.0.1:5000/demo/app 2    # moves `latest`
//! ```
//!
//! Version N pushes two real-shaped images (gzip'd tar layer, config) for
//! linux/amd64 and linux/arm64/v8 in an OCI image index tagged `1.N` and
//! `latest`, and a Docker v2 image tagged `legacy`. It prints one JSON line
//! per tag, with the index's platform manifests and configs (digests to
//! try with `ociledger lookup`).

#[allow(dead_code)]
#[path = "../tests/support/push.rs"]
mod push;

use push::{Image, Pusher};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next() else {
        eprintln!("usage: push_sample HOST:PORT/REPOSITORY [VERSION]");
        std::process::exit(2);
    };
    let version = args.next().unwrap_or_else(|| "1".to_owned());
    let Some((host, repo)) = target.split_once('/') else {
        eprintln!("{target}: expected HOST:PORT/REPOSITORY, e.g. 127.0.0.1:5000/demo/app");
        std::process::exit(2);
    };
    let registry = Pusher {
        host: host.to_owned(),
        auth: None,
    };
    if let Err(e) = push::http(host, "GET", "/v2/", &[], &[]) {
        eprintln!("{host}: no registry answers there: {e}");
        std::process::exit(1);
    }
    let amd64 = registry.push_image(repo, &Image::new("amd64", true, &version));
    let arm64 = registry.push_image(repo, &Image::new("arm64", true, &version));
    let entries = [(&amd64, "linux/amd64"), (&arm64, "linux/arm64/v8")];
    let index = registry.push_index(repo, &format!("1.{version}"), true, &entries);
    registry.push_index(repo, "latest", true, &entries);
    let legacy = registry.push_image(repo, &Image::new("amd64", false, "legacy"));
    registry.tag(repo, "legacy", &legacy);
    let platforms = serde_json::json!([
        {"platform": "linux/amd64", "digest": amd64.manifest.to_string(), "config": amd64.config.to_string()},
        {"platform": "linux/arm64/v8", "digest": arm64.manifest.to_string(), "config": arm64.config.to_string()},
    ]);
    for tag in [format!("1.{version}"), "latest".to_owned()] {
        println!(
            "{}",
            serde_json::json!({"tag": format!("{target}:{tag}"), "digest": index.to_string(), "manifests": platforms})
        );
    }
    println!(
        "{}",
        serde_json::json!({"tag": format!("{target}:legacy"), "digest": legacy.manifest.to_string(), "config": legacy.config.to_string()})
    );
}
