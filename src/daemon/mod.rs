//! `vimage daemon`: the stacks kept alive under the real clock, driven
//! from any terminal. The daemon listens on a Unix socket (mode 0600);
//! `vimage COMMAND ...` finds it and runs the command there, streaming
//! its output and stopping it on Ctrl-C; `vimage run --daemon LAB.toml`
//! loads a lab into it. `proto.rs` is the wire format, `server.rs` the
//! daemon, `client.rs` the other end.

pub mod client;
pub mod proto;
pub mod server;

use std::path::PathBuf;

/// The control socket: `--socket`, else `$VIMAGE_SOCKET`, else
/// `$XDG_RUNTIME_DIR/vimage.sock`, else `/tmp/vimage-$USER.sock`.
pub fn socket_path(given: Option<PathBuf>) -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    given
        .or_else(|| env("VIMAGE_SOCKET").map(PathBuf::from))
        .or_else(|| env("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("vimage.sock")))
        .unwrap_or_else(|| {
            let user = env("USER").or_else(|| env("LOGNAME"));
            let user = user.as_deref().and_then(|u| u.to_str()).unwrap_or("user");
            std::env::temp_dir().join(format!("vimage-{user}.sock"))
        })
}

/// A request for the daemon to load a lab (the LAB frame, as JSON).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabRequest {
    /// The file's name, for messages.
    pub file: String,
    /// Its text.
    pub text: String,
    /// `--until`.
    pub until: Option<String>,
    /// `--pcap`, absolute.
    pub pcap: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
}
