//! Which Kubernetes API server the development stack and the test suites run against, and the
//! real one's lifecycle.
//!
//! `SUIDO_APISERVER=local` (the default) means the project's own local control plane
//! (`suido-controlplane`), in process. `SUIDO_APISERVER=real` means a real kube-apiserver, etcd
//! and kube-controller-manager on loopback, started and stopped by `tools/real-apiserver.sh`
//! (see `docs/real-apiserver.md`); [`RealApiServer`] is one such control plane.
//!
//! This crate uses only the standard library, so that every suite (including the local control
//! plane's own) can depend on it.

use std::fmt;
use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;

/// The environment variable that chooses the API server.
pub const ENV: &str = "SUIDO_APISERVER";

/// The API server to run against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApiServer {
    /// The project's local control plane, in process (`suido-controlplane`).
    #[default]
    Local,
    /// kube-apiserver, etcd and kube-controller-manager from `tools/real-apiserver.sh`.
    Real,
}

/// A value of `SUIDO_APISERVER` (or `--apiserver`) that names no API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidApiServer(pub String);

impl fmt::Display for InvalidApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown API server {:?} (in {ENV} or --apiserver): expected `local` or `real`",
            self.0
        )
    }
}

impl std::error::Error for InvalidApiServer {}

impl FromStr for ApiServer {
    type Err = InvalidApiServer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(ApiServer::Local),
            "real" => Ok(ApiServer::Real),
            other => Err(InvalidApiServer(other.to_owned())),
        }
    }
}

impl fmt::Display for ApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiServer::Local => "local",
            ApiServer::Real => "real",
        })
    }
}

impl ApiServer {
    /// The choice in `SUIDO_APISERVER`: [`ApiServer::Local`] when it is unset or empty, an error
    /// when it names neither server (a typo must not quietly run the local one).
    pub fn from_env() -> Result<ApiServer, InvalidApiServer> {
        match std::env::var(ENV) {
            Ok(v) if !v.is_empty() => v.parse(),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(ApiServer::Local),
            Err(std::env::VarError::NotUnicode(v)) => {
                Err(InvalidApiServer(v.to_string_lossy().into_owned()))
            }
        }
    }
}

/// `tools/real-apiserver.sh` in this source tree.
pub fn default_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/real-apiserver.sh")
}

/// A real control plane started by `tools/real-apiserver.sh up DIR`; stopped by
/// [`RealApiServer::down`], or when dropped. The script starts the servers in their own session,
/// so they would outlive this process: a small watchdog process also runs `down` once this
/// process has gone, however it went (a panic that aborts, SIGKILL, Ctrl-C).
#[derive(Debug)]
pub struct RealApiServer {
    script: PathBuf,
    dir: PathBuf,
    kubeconfig: PathBuf,
    url: String,
    watchdog: Option<Child>,
    up: bool,
}

impl RealApiServer {
    /// Runs `script up dir`, which builds the binaries first when they are not cached, starts
    /// etcd, kube-apiserver and kube-controller-manager on free loopback ports and returns once
    /// `/readyz` answers and the `default` ServiceAccount exists. Blocks (about 3 s when the
    /// binaries are cached).
    pub fn up(script: &Path, dir: &Path) -> io::Result<RealApiServer> {
        std::fs::create_dir_all(dir)?;
        let dir = std::fs::canonicalize(dir)?;
        let out = Command::new("bash")
            .arg(script)
            .arg("up")
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("running {}: {e}", script.display())))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{} up {} failed ({}):\n{}{}",
                script.display(),
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        // From here on, dropping `server` stops what was started.
        let mut server = RealApiServer {
            script: script.to_path_buf(),
            kubeconfig: dir.join("kubeconfig"),
            url: String::new(),
            dir,
            watchdog: None,
            up: true,
        };
        server.url = format!("https://127.0.0.1:{}", server.port()?);
        server.watchdog = Some(server.spawn_watchdog()?);
        Ok(server)
    }

    /// The apiserver's port, from `DIR/ports.env`.
    fn port(&self) -> io::Result<u16> {
        let ports = std::fs::read_to_string(self.dir.join("ports.env"))?;
        ports
            .lines()
            .find_map(|l| l.strip_prefix("APISERVER_PORT="))
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "no APISERVER_PORT in {}/ports.env",
                    self.dir.display()
                ))
            })
    }

    /// A process in its own process group (so that Ctrl-C in a terminal does not reach it) that
    /// waits for this process to end and then runs `down`.
    fn spawn_watchdog(&self) -> io::Result<Child> {
        Command::new("sh")
            .arg("-c")
            .arg(r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec bash "$2" down "$3""#)
            .arg("suido-realapi-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.script)
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
    }

    /// The admin kubeconfig (`DIR/kubeconfig`: bearer token of a `system:masters` user, the
    /// CA inline).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The apiserver's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The state directory (`pki/`, `etcd/`, `logs/`, ...).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `script down dir` (SIGTERM, then SIGKILL after 10 s, to each server) and ends the
    /// watchdog. Safe to repeat.
    pub fn down(&mut self) -> io::Result<()> {
        if !self.up {
            return Ok(());
        }
        let out = Command::new("bash")
            .arg(&self.script)
            .arg("down")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()?;
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        self.up = false;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{} down {} failed ({}):\n{}",
                self.script.display(),
                self.dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }
}

impl Drop for RealApiServer {
    fn drop(&mut self) {
        if let Err(e) = self.down() {
            eprintln!("stopping the real API server: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_names_and_refuses_others() {
        assert_eq!("local".parse(), Ok(ApiServer::Local));
        assert_eq!("real".parse(), Ok(ApiServer::Real));
        assert!("Real".parse::<ApiServer>().is_err());
        assert_eq!(ApiServer::Real.to_string(), "real");
        assert_eq!(ApiServer::default(), ApiServer::Local);
    }

    #[test]
    fn the_script_is_in_the_source_tree() {
        assert!(default_script().is_file(), "{}", default_script().display());
    }
}
