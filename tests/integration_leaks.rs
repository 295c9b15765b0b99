//! The leak test (issue 10): integrations of every kind are created and
//! updated with distinctive credentials, then every command and every
//! library output path runs (answers, `{:?}`, `Display`, errors and their
//! problem+json, `stats`, `compact`, refused updates, a wrong key, bodies
//! that put a credential where it does not belong). Everything they print,
//! and the raw bytes of the ledger file (and every file beside it but the
//! key files), is searched for each plaintext credential: zero hits.
//!
//! Guards against any path, present or future, that prints, logs, returns
//! or stores a credential in plain text.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ociledger::model::integration::{IntegrationKind, MASK};
use ociledger::model::{ImageIntegration, UpdateImageIntegrationRequest};
use ociledger::problem::ErrorModel;
use ociledger::secrets::SecretKey;
use ociledger::{Error, Ledger};
use serde_json::{Value, json};

/// Every credential handed to the ledger, and everything it printed.
#[derive(Default)]
struct Watch {
    secrets: Vec<String>,
    output: String,
}

impl Watch {
    /// A new distinctive credential, remembered.
    fn secret(&mut self, what: &str) -> String {
        let s = format!(
            "LeAk{}x{}Zq",
            what.replace(['.', '-'], ""),
            self.secrets.len()
        );
        self.secrets.push(s.clone());
        s
    }

    fn saw(&mut self, text: impl AsRef<str>) {
        self.output.push_str(text.as_ref());
        self.output.push('\n');
    }

    fn saw_result<T: std::fmt::Debug + serde::Serialize>(&mut self, r: &ociledger::Result<T>) {
        match r {
            Ok(v) => {
                self.saw(format!("{v:?}"));
                self.saw(serde_json::to_string(v).unwrap());
            }
            Err(e) => self.saw_error(e),
        }
    }

    fn saw_error(&mut self, e: &Error) {
        self.saw(format!("{e} {e:?}"));
        self.saw(serde_json::to_string(&ErrorModel::from(e)).unwrap());
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            self.saw(s.to_string());
            source = s.source();
        }
    }

    fn saw_run(&mut self, out: &Output) {
        self.saw(String::from_utf8_lossy(&out.stdout));
        self.saw(String::from_utf8_lossy(&out.stderr));
    }

    /// No credential in anything printed.
    fn check_output(&self) {
        assert!(
            self.secrets.len() > 20,
            "the test stored too few credentials"
        );
        for s in &self.secrets {
            assert!(
                !self.output.contains(s.as_str()),
                "credential {s} appears in an output:\n{}",
                context(&self.output, s)
            );
        }
    }

    /// No credential in any file of `dir` but the key files.
    fn check_files(&self, dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "key") || !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for s in &self.secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "credential {s} in plain text in {}",
                    path.display()
                );
            }
        }
    }
}

fn context(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(200)
        .map_or(0, |(i, _)| i);
    text[start..].chars().take(400 + needle.len()).collect()
}

/// A body of `kind` named `name` whose every credential is new.
fn body(w: &mut Watch, kind: IntegrationKind, name: &str) -> Value {
    let mut s = |p: &str| w.secret(&format!("{name}{p}"));
    let config = match kind {
        IntegrationKind::Docker => json!({"endpoint": format!("{name}.example.com"),
            "username": "u", "password": s("docker.password")}),
        IntegrationKind::Quay => json!({"endpoint": format!("{name}.example.com"),
            "oauthToken": s("quay.oauthToken"),
            "registryRobotCredentials": {"username": "org+robot",
                "password": s("quay.registryRobotCredentials.password")}}),
        IntegrationKind::Ecr => json!({"registryId": "123456789012",
            "accessKeyId": s("ecr.accessKeyId"), "secretAccessKey": s("ecr.secretAccessKey"),
            "region": "eu-west-1", "endpoint": format!("{name}.example.com"),
            "authorizationData": {"username": "AWS", "password": s("ecr.authorizationData.password")}}),
        IntegrationKind::Google => json!({"endpoint": format!("{name}.example.com"),
            "serviceAccount": s("google.serviceAccount"), "project": "p"}),
        IntegrationKind::Azure => json!({"endpoint": format!("{name}.example.com"),
            "username": "u", "password": s("azure.password")}),
        IntegrationKind::Ibm => json!({"endpoint": format!("{name}.example.com"),
            "apiKey": s("ibm.apiKey")}),
        IntegrationKind::Clair | IntegrationKind::ClairV4 | IntegrationKind::Clairify => {
            json!({"endpoint": format!("https://{name}.example.com")})
        }
        IntegrationKind::ScannerV4 => json!({"indexerEndpoint": format!("{name}.example.com")}),
    };
    let mut b = json!({"name": name, "type": kind.type_name(),
        "categories": [kind.allowed_categories()[0]]});
    b[kind.config_key()] = config;
    b
}

fn set(v: &mut Value, path: &str, value: Value) {
    let mut at = v;
    let mut keys = path.split('.').peekable();
    while let Some(k) = keys.next() {
        if keys.peek().is_none() {
            at[k] = value;
            return;
        }
        at = &mut at[k];
    }
}

fn cli(db: &Path, args: &[&str], stdin: &str, key: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ociledger"));
    cmd.env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_ACTOR")
        .env_remove("OCILEDGER_SECRET_KEY_FILE")
        .arg("--db")
        .arg(db);
    if let Some(k) = key {
        cmd.env("OCILEDGER_SECRET_KEY_FILE", k);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn json_of(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Guards against a credential reaching any output or the file in plain text.
#[test]
#[allow(clippy::too_many_lines)]
fn no_credential_appears_in_any_output_or_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("ledger.redb");
    let key_file = dir.path().join("ledger.key");
    std::fs::write(&key_file, [0x5a; 32]).unwrap();
    let new_key_file = dir.path().join("new.key");
    std::fs::write(&new_key_file, format!("{}\n", "c3".repeat(32))).unwrap();
    let mut w = Watch::default();

    // --- The library: every kind, created and updated.
    {
        let l = Ledger::create(&db)
            .unwrap()
            .with_secret_key(SecretKey::from_file(&key_file).unwrap());
        w.saw(format!(
            "{l:?} {:?}",
            SecretKey::from_file(&key_file).unwrap()
        ));
        for kind in IntegrationKind::ALL {
            let name = format!("lib-{}", kind.type_name().to_lowercase());
            let b = body(&mut w, kind, &name);
            let parsed = ImageIntegration::from_json(b.to_string().as_bytes()).unwrap();
            w.saw(format!("{parsed:?} {parsed} {:?}", parsed.config));
            for p in kind.secret_fields() {
                let s = parsed.config.secret(p).unwrap();
                w.saw(format!("{s} {s:?}"));
            }
            let created = l.create_integration(&parsed);
            w.saw_result(&created);
            let created = created.unwrap();
            // updatePassword true: new credentials.
            let mut cfg = body(&mut w, kind, &name);
            cfg["id"] = json!(created.id);
            let req = UpdateImageIntegrationRequest::from_json(
                json!({"config": cfg, "updatePassword": true})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
            w.saw(format!("{req:?}"));
            w.saw(serde_json::to_string(&req).unwrap());
            w.saw_result(&l.update_integration(&req));
            // updatePassword false, credentials masked: kept.
            let mut kept = serde_json::to_value(&created).unwrap();
            kept["skipTestIntegration"] = json!(true);
            let req = UpdateImageIntegrationRequest::from_json(
                json!({"config": kept, "updatePassword": false})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
            w.saw_result(&l.update_integration(&req));
            // Refused updates: an unmasked credential, a moved endpoint
            // with a new credential beside it, the mask stored, a new type.
            for p in kind.secret_fields() {
                let mut cfg = serde_json::to_value(&created).unwrap();
                set(&mut cfg, p, json!(w.secret("refused")));
                let req = UpdateImageIntegrationRequest::from_json(
                    json!({"config": cfg, "updatePassword": false})
                        .to_string()
                        .as_bytes(),
                )
                .unwrap();
                w.saw(format!("{req:?}"));
                let r = l.update_integration(&req);
                assert!(r.is_err());
                w.saw_result(&r);
            }
            for p in kind.bound_fields() {
                let mut cfg = serde_json::to_value(&created).unwrap();
                if let Some(first) = kind.secret_fields().first() {
                    set(&mut cfg, first, json!(MASK));
                }
                let moved = match cfg.pointer(&format!("/{}", p.replace('.', "/"))) {
                    Some(Value::Bool(b)) => json!(!b),
                    _ => json!("moved.example.org"),
                };
                set(&mut cfg, p, moved);
                let req = UpdateImageIntegrationRequest::from_json(
                    json!({"config": cfg, "updatePassword": false})
                        .to_string()
                        .as_bytes(),
                )
                .unwrap();
                let r = l.update_integration(&req);
                assert!(r.is_err(), "{p}");
                w.saw_result(&r);
            }
            let r = l.update_integration(
                &UpdateImageIntegrationRequest::from_json(
                    json!({"config": serde_json::to_value(&created).unwrap(), "updatePassword": true})
                        .to_string()
                        .as_bytes(),
                )
                .unwrap(),
            );
            if !kind.secret_fields().is_empty() {
                assert!(r.is_err());
            }
            w.saw_result(&r);
            // The credentials for the scanner: Debug only.
            let creds = l.integration_credentials(&created.id).unwrap();
            w.saw(format!("{creds:?} {:?}", creds.auth()));
            w.saw(serde_json::to_string(creds.integration()).unwrap());
            w.saw_result(&l.get_integration(&name));
        }
        w.saw_result(&l.integrations(None, 1000));
        let hub = l.credentials_for("lib-docker.example.com").unwrap();
        w.saw(format!("{hub:?}"));
        // Bodies that put a credential where it does not belong.
        for bad in [
            json!({"name": "x", "type": "docker", "categories": ["REGISTRY"],
                "docker": {"endpoint": "x.example.com", "insecure": w.secret("wrongtype")}}),
            json!({"name": "x", "type": "docker", "categories": [w.secret("category")],
                "docker": {"endpoint": "x.example.com"}}),
            json!({"name": "x", "type": "docker", "categories": ["REGISTRY"],
                "docker": {"endpoint": "x.example.com", "pasword": w.secret("typo")}}),
            json!({"name": "x", "type": "docker", "categories": ["REGISTRY"],
                "docker": {"endpoint": "x.example.com", "password": 1, "username": w.secret("after")}}),
        ] {
            let r = ImageIntegration::from_json(bad.to_string().as_bytes());
            assert!(r.is_err(), "{bad}");
            w.saw_result(&r);
        }
        // A credential in an endpoint's user information: refused, not echoed.
        let userinfo = format!("https://robot:{}@leaky.example.com", w.secret("userinfo"));
        let r = l.create_integration(
            &ImageIntegration::from_json(
                json!({"name": "ui", "type": "docker", "categories": ["REGISTRY"],
                    "docker": {"endpoint": userinfo}})
                .to_string()
                .as_bytes(),
            )
            .unwrap(),
        );
        assert!(r.is_err());
        w.saw_result(&r);
        let r = l.credentials_for(&format!("https://robot:{}@quay.io", w.secret("lookup")));
        assert!(r.is_err());
        w.saw_error(&r.unwrap_err());
        let truncated = format!(
            r#"{{"name": "x", "docker": {{"password": "{}"#,
            w.secret("cut")
        );
        w.saw_result(&ImageIntegration::from_json(truncated.as_bytes()));
        w.saw_result(&l.stats());
        w.saw(format!("{:?}", l.snapshot().unwrap().counts()));
    }
    w.check_files(dir.path());

    // A wrong key, from the library.
    {
        let l = Ledger::open(&db)
            .unwrap()
            .with_secret_key(SecretKey::from_bytes([1; 32]));
        let r = l.integration_credentials("lib-docker");
        assert!(matches!(r, Err(Error::SecretKeyMismatch { .. })));
        w.saw_error(&r.unwrap_err());
        let r = l.create_integration(
            &ImageIntegration::from_json(
                body(&mut w, IntegrationKind::Docker, "wrong-key")
                    .to_string()
                    .as_bytes(),
            )
            .unwrap(),
        );
        w.saw_result(&r);
        w.saw_result(&l.compact());
    }
    w.check_files(dir.path());

    // --- The command line: every command.
    let key = Some(key_file.as_path());
    for kind in IntegrationKind::ALL {
        let name = format!("cli-{}", kind.type_name().to_lowercase());
        let b = body(&mut w, kind, &name).to_string();
        // Without the key: refused when there is a credential to store.
        let mut out = cli(&db, &["integration", "create"], &b, None);
        w.saw_run(&out);
        assert_eq!(out.status.success(), kind.secret_fields().is_empty());
        if !out.status.success() {
            out = cli(&db, &["integration", "create"], &b, key);
            w.saw_run(&out);
        }
        let created = json_of(&out);
        w.saw_run(&cli(&db, &["integration", "get", &name], "", None));
        let mut cfg = body(&mut w, kind, &name);
        cfg["id"] = created["id"].clone();
        let update = json!({"config": cfg, "updatePassword": true}).to_string();
        w.saw_run(&cli(&db, &["integration", "update"], &update, key));
        let mut kept = created.clone();
        kept["skipTestIntegration"] = json!(true);
        let update = json!({"config": kept, "updatePassword": false}).to_string();
        w.saw_run(&cli(&db, &["integration", "update"], &update, None));
        for p in kind.secret_fields() {
            let mut cfg = created.clone();
            set(&mut cfg, p, json!(w.secret("cli-refused")));
            let update = json!({"config": cfg, "updatePassword": false}).to_string();
            let out = cli(&db, &["integration", "update"], &update, key);
            assert_eq!(out.status.code(), Some(1));
            w.saw_run(&out);
        }
    }
    let bad_body = format!(
        r#"{{"name": "x", "type": "docker", "categories": ["REGISTRY"], "docker": {{"endpoint": "x.example.com", "insecure": "{}"}}}}"#,
        w.secret("cli-wrongtype")
    );
    w.saw_run(&cli(&db, &["integration", "create"], &bad_body, key));
    let bad_update = format!(
        r#"{{"config": {{"name": "x"}}, "updatePassword": "{}"}}"#,
        w.secret("cli-flag")
    );
    w.saw_run(&cli(&db, &["integration", "update"], &bad_update, key));
    w.saw_run(&cli(&db, &["integration", "list"], "", None));
    w.saw_run(&cli(&db, &["stats"], "", None));
    w.saw_run(&cli(&db, &["integration", "get", "no-such"], "", None));
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, [2u8; 32]).unwrap();
    let wrong_body = body(&mut w, IntegrationKind::Ibm, "cli-wrong").to_string();
    w.saw_run(&cli(
        &db,
        &["integration", "create"],
        &wrong_body,
        Some(&wrong),
    ));
    w.saw_run(&cli(
        &db,
        &[
            "integration",
            "rotate-key",
            "--new-key-file",
            new_key_file.to_str().unwrap(),
        ],
        "",
        Some(&wrong),
    ));
    let rotated = cli(
        &db,
        &[
            "integration",
            "rotate-key",
            "--new-key-file",
            new_key_file.to_str().unwrap(),
        ],
        "",
        key,
    );
    w.saw_run(&rotated);
    assert_eq!(rotated.status.code(), Some(0));
    w.saw_run(&cli(
        &db,
        &["integration", "delete", "cli-docker"],
        "",
        None,
    ));
    w.saw_run(&cli(&db, &["compact"], "", None));
    w.saw_run(&cli(&db, &["stats"], "", None));
    w.saw_run(&cli(&db, &["integration", "list"], "", None));
    w.saw_run(&cli(&db, &["integration", "--help"], "", None));

    // The new key opens what is left; nothing was lost in the rotation.
    let l = Ledger::open(&db)
        .unwrap()
        .with_secret_key(SecretKey::from_file(&new_key_file).unwrap());
    let creds = l.integration_credentials("cli-quay").unwrap();
    assert!(
        creds
            .secret("quay.oauthToken")
            .unwrap()
            .expose()
            .starts_with("LeAk")
    );
    drop(creds);
    w.saw_result(&l.compact());
    drop(l);

    w.check_output();
    w.check_files(dir.path());
}
