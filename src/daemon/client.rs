//! The client: `vimage COMMAND ...` and `vimage run --daemon` when a
//! daemon listens. Standard input goes to the daemon only as the command
//! asks for it (a `ping` never swallows a script's input); output comes
//! back as it is written; Ctrl-C is the command's SIGINT (ping prints its
//! statistics, others stop), a second one leaves, and the daemon stops
//! the command when the connection drops.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use super::proto::{self, Kind, VERSION};

/// What is at the control socket's path.
pub enum Found {
    /// A daemon of ours, connected.
    Up(UnixStream),
    /// Nothing.
    Nothing,
    /// A socket another user made: not ours to send commands to.
    NotOurs,
    /// A socket file nobody answers on (a daemon that died).
    Dead(std::io::Error),
}

/// Look for the daemon at `path`.
pub fn find(path: &Path) -> Found {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Found::Nothing;
    };
    if meta.uid() != nix::unistd::getuid().as_raw() {
        return Found::NotOurs;
    }
    match UnixStream::connect(path) {
        Ok(s) => Found::Up(s),
        Err(e) => Found::Dead(e),
    }
}

/// Connect to the daemon at `path`, if one of ours listens there.
pub fn connect(path: &Path) -> Option<UnixStream> {
    match find(path) {
        Found::Up(s) => Some(s),
        _ => None,
    }
}

/// The socket's sending side, shared by the threads that send (standard
/// input, ^C) so that frames never interleave.
type Sender = Arc<Mutex<UnixStream>>;

fn send(w: &Sender, kind: Kind, payload: &[u8]) -> std::io::Result<()> {
    let mut s = w.lock().unwrap_or_else(|e| e.into_inner());
    proto::send(&mut *s, kind, payload)
}

/// ^C: the first goes to the daemon as the command's SIGINT; another
/// before the command ends leaves at once.
fn forward_sigint(w: Sender) {
    let mut pressed = false;
    let _ = ctrlc::set_handler(move || {
        if pressed || send(&w, Kind::Intr, &[]).is_err() {
            std::process::exit(130);
        }
        pressed = true;
    });
}

/// Say HELLO and check the daemon speaks our version.
fn hello(s: &mut UnixStream) -> Result<(), String> {
    proto::send(s, Kind::Hello, &VERSION.to_be_bytes()).map_err(|e| e.to_string())?;
    match proto::recv(s).map_err(|e| e.to_string())? {
        Some((Kind::Hello, v)) if v == VERSION.to_be_bytes() => Ok(()),
        Some((Kind::Hello, v)) => Err(format!(
            "the daemon speaks control protocol {}, this vimage {VERSION}: use the same vimage for both",
            proto::u32_of(&v).map_or("?".into(), |v| v.to_string())
        )),
        Some((Kind::Error, m)) => Err(String::from_utf8_lossy(&m).into_owned()),
        Some((k, _)) => Err(format!("the daemon answered {k:?} to HELLO")),
        None => Err("the daemon closed the connection".into()),
    }
}

/// Run one request on the daemon: send it, stream the replies, return the
/// exit status.
pub fn request(mut s: UnixStream, kind: Kind, payload: &[u8]) -> i32 {
    if let Err(e) = hello(&mut s) {
        eprintln!("vimage: daemon: {e}");
        return 2;
    }
    if let Err(e) = proto::send(&mut s, kind, payload) {
        eprintln!("vimage: daemon: {e}");
        return 1;
    }
    let Ok(w) = s.try_clone() else {
        eprintln!("vimage: daemon: cannot share the connection");
        return 1;
    };
    let w: Sender = Arc::new(Mutex::new(w));
    forward_sigint(w.clone());
    let mut credit: Option<mpsc::Sender<usize>> = None;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        match proto::recv(&mut s) {
            Ok(Some((Kind::Out, b))) => {
                if out.write_all(&b).and_then(|()| out.flush()).is_err() {
                    return 1; // stdout closed (`| head`): stop the command
                }
            }
            Ok(Some((Kind::Err, b))) => {
                let _ = err.write_all(&b);
            }
            Ok(Some((Kind::Want, n))) => {
                let n = proto::u32_of(&n).unwrap_or(0) as usize;
                let tx = credit.get_or_insert_with(|| feed_stdin(w.clone()));
                let _ = tx.send(n);
            }
            Ok(Some((Kind::Exit, st))) => return proto::u32_of(&st).map_or(1, |s| s as i32),
            Ok(Some((Kind::Error, m))) => {
                eprintln!("vimage: daemon: {}", String::from_utf8_lossy(&m));
                return 2;
            }
            Ok(Some((k, _))) => {
                eprintln!("vimage: daemon: unexpected {k:?} frame");
                return 2;
            }
            Ok(None) => {
                eprintln!("vimage: daemon: the daemon went away");
                return 1;
            }
            Err(e) => {
                eprintln!("vimage: daemon: {e}");
                return 1;
            }
        }
    }
}

/// A thread that sends standard input as the daemon grants credit.
fn feed_stdin(w: Sender) -> mpsc::Sender<usize> {
    let (tx, rx) = mpsc::channel::<usize>();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 64 << 10];
        let mut budget = 0usize;
        loop {
            while budget == 0 {
                match rx.recv() {
                    Ok(n) => budget += n,
                    Err(_) => return,
                }
            }
            let want = budget.min(buf.len());
            match stdin.read(&mut buf[..want]) {
                Ok(0) | Err(_) => {
                    let _ = send(&w, Kind::StdinEnd, &[]);
                    return;
                }
                Ok(n) => {
                    budget -= n;
                    if send(&w, Kind::Stdin, &buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    tx
}

/// `vimage daemon stop`.
pub fn stop(path: &Path) -> i32 {
    match connect(path) {
        Some(s) => request(s, Kind::Stop, &[]),
        None => {
            eprintln!("vimage: daemon: none listens on {}", path.display());
            1
        }
    }
}
