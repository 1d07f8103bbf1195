//! iperf3's control protocol (3.12, `iperf_api.h`): one-byte states on the
//! control connection, JSON framed by a 4-byte big-endian length, the
//! 37-byte cookie that names a test, and the 4-byte UDP stream handshake.

use std::io;

use serde_json::Value;

use crate::socket::TcpStream;

pub const TEST_START: u8 = 1;
pub const TEST_RUNNING: u8 = 2;
pub const TEST_END: u8 = 4;
pub const PARAM_EXCHANGE: u8 = 9;
pub const CREATE_STREAMS: u8 = 10;
pub const SERVER_TERMINATE: u8 = 11;
pub const CLIENT_TERMINATE: u8 = 12;
pub const EXCHANGE_RESULTS: u8 = 13;
pub const DISPLAY_RESULTS: u8 = 14;
pub const IPERF_DONE: u8 = 16;
/// `ACCESS_DENIED` (-1): the server is busy, or a stream's cookie is wrong.
pub const ACCESS_DENIED: u8 = 0xff;
/// `SERVER_ERROR` (-2), followed by i_errno and errno as 32-bit integers.
pub const SERVER_ERROR: u8 = 0xfe;

/// `COOKIE_SIZE`: 36 characters and a NUL.
pub const COOKIE_SIZE: usize = 37;
/// What a UDP stream's first datagram and its answer carry, in the byte
/// order of an x86 host (iperf3 writes them unconverted).
pub const UDP_CONNECT_MSG: [u8; 4] = 0x3637_3839u32.to_le_bytes();
pub const UDP_CONNECT_REPLY: [u8; 4] = 0x3938_3736u32.to_le_bytes();
/// The default port, for control and data alike.
pub const PORT: u16 = 5201;
/// `DEFAULT_TCP_BLKSIZE`.
pub const TCP_BLKSIZE: usize = 128 * 1024;
/// `UDP_RATE`: 1 Mbit/s unless `-b` says otherwise.
pub const UDP_RATE: u64 = 1024 * 1024;
/// The smallest and largest UDP payloads iperf3 sends.
pub const MIN_UDP_BLOCKSIZE: usize = 16;
pub const MAX_UDP_BLOCKSIZE: usize = 65507;

/// A cookie from 32 letters and digits (`make_cookie`), NUL-terminated.
pub fn make_cookie(mut random: impl FnMut() -> u64) -> [u8; COOKIE_SIZE] {
    const CHARS: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut c = [0u8; COOKIE_SIZE];
    for b in c.iter_mut().take(COOKIE_SIZE - 1) {
        *b = CHARS[(random() % 32) as usize];
    }
    c
}

/// Why a test stopped short; the text is iperf3's.
#[derive(Debug)]
pub enum Error {
    Ctrl(&'static str),
    Msg(String),
    Io(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Ctrl(s) => f.write_str(s),
            Error::Msg(s) => f.write_str(s),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Send a state byte.
pub async fn send_state(c: &mut TcpStream, s: u8) -> Result<(), Error> {
    c.write_all(&[s])
        .await
        .map_err(|_| Error::Ctrl("unable to send control message"))
}

/// Read a state byte.
pub async fn recv_state(c: &mut TcpStream) -> Result<u8, Error> {
    let mut b = [0u8; 1];
    match c.read(&mut b).await {
        Ok(1) => Ok(b[0]),
        Ok(_) => Err(Error::Ctrl("control socket has closed unexpectedly")),
        Err(_) => Err(Error::Ctrl("unable to receive control message")),
    }
}

/// Send a JSON object with its length (`JSON_write`).
pub async fn json_write(c: &mut TcpStream, v: &Value) -> Result<(), Error> {
    let s = v.to_string();
    let mut m = (s.len() as u32).to_be_bytes().to_vec();
    m.extend_from_slice(s.as_bytes());
    c.write_all(&m).await.map_err(Error::Io)
}

/// Read a JSON object (`JSON_read`); at most 16 MB, as a sanity bound.
pub async fn json_read(c: &mut TcpStream, what: &'static str) -> Result<Value, Error> {
    let mut n = [0u8; 4];
    c.read_exact(&mut n).await.map_err(|_| Error::Ctrl(what))?;
    let n = u32::from_be_bytes(n) as usize;
    if n > 16 << 20 {
        return Err(Error::Ctrl(what));
    }
    let mut b = vec![0u8; n];
    c.read_exact(&mut b).await.map_err(|_| Error::Ctrl(what))?;
    serde_json::from_slice(&b).map_err(|_| Error::Ctrl(what))
}

/// An integer of a JSON object; iperf3 3.12 prints -1 as 2^64-1.
pub fn int(v: &Value, key: &str) -> Option<i64> {
    let x = v.get(key)?;
    x.as_i64()
        .or_else(|| x.as_u64().map(|u| u as i64))
        .or_else(|| x.as_f64().map(|f| f as i64))
}

/// What a client asks for (`send_parameters` / `get_parameters`).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub udp: bool,
    pub time: u64,
    pub bytes: u64,
    pub blocks: u64,
    pub parallel: u32,
    pub reverse: bool,
    pub len: usize,
    /// Bits per second; 0 is unlimited.
    pub bandwidth: u64,
    pub nodelay: bool,
    pub congestion: Option<String>,
    pub window: Option<usize>,
}

impl Params {
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert(if self.udp { "udp" } else { "tcp" }.into(), Value::Bool(true));
        m.insert("omit".into(), 0.into());
        m.insert("time".into(), self.time.into());
        m.insert("num".into(), self.bytes.into());
        m.insert("blockcount".into(), self.blocks.into());
        if self.nodelay {
            m.insert("nodelay".into(), Value::Bool(true));
        }
        m.insert("parallel".into(), self.parallel.into());
        if self.reverse {
            m.insert("reverse".into(), Value::Bool(true));
        }
        if let Some(w) = self.window {
            m.insert("window".into(), w.into());
        }
        m.insert("len".into(), self.len.into());
        if self.bandwidth != 0 {
            m.insert("bandwidth".into(), self.bandwidth.into());
        }
        m.insert("pacing_timer".into(), 1000.into());
        if let Some(c) = &self.congestion {
            m.insert("congestion".into(), c.clone().into());
        }
        m.insert("client_version".into(), "3.12".into());
        Value::Object(m)
    }

    /// The server's reading: every key optional, unknown ones ignored.
    pub fn from_json(v: &Value) -> Result<Params, Error> {
        if !v.is_object() {
            return Err(Error::Ctrl("unable to receive parameters from client"));
        }
        if v.get("sctp").is_some() || v.get("bidirectional").is_some() || v.get("authtoken").is_some() {
            return Err(Error::Ctrl("this feature is not available"));
        }
        let nonneg = |k: &str, d: i64| int(v, k).unwrap_or(d).max(0) as u64;
        Ok(Params {
            udp: v.get("udp").is_some(),
            time: nonneg("time", 10),
            bytes: nonneg("num", 0),
            blocks: nonneg("blockcount", 0),
            parallel: nonneg("parallel", 1).clamp(1, 128) as u32,
            reverse: v.get("reverse").is_some(),
            len: (nonneg("len", TCP_BLKSIZE as i64) as usize).clamp(1, 1 << 20),
            bandwidth: nonneg("bandwidth", 0),
            nodelay: v.get("nodelay").is_some(),
            congestion: v.get("congestion").and_then(Value::as_str).map(str::to_string),
            window: int(v, "window").filter(|&w| w > 0).map(|w| w as usize),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip_and_take_what_3_12_sends() {
        let p = Params {
            udp: true,
            time: 5,
            bytes: 0,
            blocks: 0,
            parallel: 2,
            reverse: true,
            len: 1448,
            bandwidth: 1048576,
            nodelay: false,
            congestion: None,
            window: None,
        };
        assert_eq!(Params::from_json(&p.to_json()).ok(), Some(p));
        let real: Value = serde_json::from_str(
            r#"{"tcp":true,"omit":0,"time":2,"num":0,"blockcount":0,"parallel":1,"reverse":true,"len":131072,"bandwidth":100000000,"pacing_timer":1000,"client_version":"3.12"}"#,
        )
        .expect("json");
        let got = Params::from_json(&real).expect("params");
        assert!(got.reverse && !got.udp && got.bandwidth == 100_000_000 && got.time == 2);
        let minus_one: Value = serde_json::from_str(r#"{"x":18446744073709551615}"#).expect("json");
        assert_eq!(int(&minus_one, "x"), Some(-1));
    }

    #[test]
    fn cookies_are_36_base32_characters_and_a_nul() {
        let mut n = 0;
        let c = make_cookie(|| {
            n += 7;
            n
        });
        assert_eq!(c[36], 0);
        assert!(c[..36].iter().all(|b| b"abcdefghijklmnopqrstuvwxyz234567".contains(b)));
    }
}
