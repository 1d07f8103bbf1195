//! The control protocol between `vimage` and `vimage daemon`: frames of
//! [kind: u8][length: u32, big endian][payload] over a Unix socket. A
//! connection opens with HELLO carrying the protocol version; the daemon
//! answers HELLO with its own, or ERROR if they differ. Then one request:
//! ARGV (a JSON array of words), or LAB (JSON: a [`LabRequest`]), or STOP.
//! Replies: OUT and ERR bytes as the command writes them, WANT (a 32-bit
//! count: the command reads its input, send up to that many more bytes
//! as STDIN frames, or STDIN_END), then EXIT (a 32-bit status). INTR from
//! the client is a ^C: the command's SIGINT (ping ends with its
//! statistics; others stop). A client that goes away stops its command.
//! Numbers are big endian; payloads longer than [`CHUNK`] are split.
//!
//! [`LabRequest`]: super::LabRequest

use std::io::{self, Read, Write};

/// The protocol's version; both ends must speak the same.
pub const VERSION: u32 = 1;
/// The largest frame accepted (a lab file, say).
pub const MAX_FRAME: usize = 64 << 20;
/// Output is sent in frames of at most this.
pub const CHUNK: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Hello = 1,
    Argv = 2,
    Stdin = 3,
    StdinEnd = 4,
    Lab = 5,
    Stop = 6,
    Intr = 7,
    Out = 16,
    Err = 17,
    Exit = 18,
    Error = 19,
    Want = 20,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        use Kind::*;
        [
            Hello, Argv, Stdin, StdinEnd, Lab, Stop, Intr, Out, Err, Exit, Error, Want,
        ]
        .into_iter()
        .find(|k| *k as u8 == b)
    }
}

/// A frame's 32-bit number.
pub fn u32_of(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

/// Write one frame.
pub fn send(w: &mut impl Write, kind: Kind, payload: &[u8]) -> io::Result<()> {
    let mut h = [0u8; 5];
    h[0] = kind as u8;
    h[1..5].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    w.write_all(&h)?;
    w.write_all(payload)?;
    w.flush()
}

/// Read one frame of at most [`MAX_FRAME`]; `Ok(None)` at a clean end of
/// the stream.
pub fn recv(r: &mut impl Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    recv_max(r, MAX_FRAME)
}

/// Read one frame of at most `max` bytes (checked before reading it).
pub fn recv_max(r: &mut impl Read, max: usize) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut h = [0u8; 5];
    match r.read_exact(&mut h[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut h[1..])?;
    let kind = Kind::from_u8(h[0])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("unknown frame kind {}", h[0])))?;
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is too large"),
        ));
    }
    let mut p = vec![0u8; len];
    r.read_exact(&mut p)?;
    Ok(Some((kind, p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_refuse_garbage() {
        let mut b = Vec::new();
        send(&mut b, Kind::Argv, b"[\"jls\"]").expect("send");
        send(&mut b, Kind::StdinEnd, b"").expect("send");
        let mut r = &b[..];
        assert_eq!(recv(&mut r).expect("ok"), Some((Kind::Argv, b"[\"jls\"]".to_vec())));
        assert_eq!(recv(&mut r).expect("ok"), Some((Kind::StdinEnd, vec![])));
        assert_eq!(recv(&mut r).expect("ok"), None);
        assert!(recv(&mut &[99u8, 0, 0, 0, 0][..]).is_err());
        assert!(recv(&mut &[2u8, 0xff, 0xff, 0xff, 0xff][..]).is_err());
    }
}
