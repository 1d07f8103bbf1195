//! Packet buffers: an owned buffer with headroom, after mbuf(9).
//!
//! Headers are stripped by moving the start forward ([`Mbuf::adj`]) and
//! added by moving it back ([`Mbuf::prepend`]), so a frame forwarded by a
//! router is rewritten in place; crossing an epair moves the buffer, it is
//! never copied.

/// Headroom left in front of new packets: room for an IP header with
/// options and an Ethernet header.
pub const MAX_LINKHDR: usize = 80;

/// A packet. The data is `buf[off..]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Mbuf {
    buf: Vec<u8>,
    off: usize,
    /// A transport checksum not computed yet (`CSUM_DELAY_DATA`).
    delayed: Option<Delayed>,
}

/// Where a delayed checksum goes: the segment is `buf[start..start +
/// len]`, and its checksum field (at `start + field`) holds the sum of the
/// pseudo-header. Inside vimage a frame with one is valid by construction
/// (`CSUM_DATA_VALID`, as FreeBSD's epair and lo say); it is computed when
/// the bytes are seen: a capture, the real host, fragmentation, a quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Delayed {
    start: u32,
    len: u32,
    field: u16,
}

impl Mbuf {
    /// A packet holding a copy of `data`, with [`MAX_LINKHDR`] bytes of
    /// headroom.
    pub fn from_slice(data: &[u8]) -> Mbuf {
        let mut buf = Vec::with_capacity(MAX_LINKHDR + data.len());
        buf.resize(MAX_LINKHDR, 0);
        buf.extend_from_slice(data);
        Mbuf {
            buf,
            off: MAX_LINKHDR,
            delayed: None,
        }
    }

    /// A zeroed packet of `len` bytes with headroom.
    pub fn zeroed(len: usize) -> Mbuf {
        Mbuf {
            buf: vec![0; MAX_LINKHDR + len],
            off: MAX_LINKHDR,
            delayed: None,
        }
    }

    /// A packet that takes `data` as it is (no headroom).
    pub fn from_vec(data: Vec<u8>) -> Mbuf {
        Mbuf {
            buf: data,
            off: 0,
            delayed: None,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.off
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.off..]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.off..]
    }

    /// `m_adj(m, n)`: drop `n` bytes from the front (all, if fewer).
    pub fn adj(&mut self, n: usize) {
        self.off = (self.off + n).min(self.buf.len());
    }

    /// Cut the packet to `len` bytes (drop link-layer padding).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.buf.truncate(self.off + len);
        }
    }

    /// `M_PREPEND`: make room for `n` bytes in front and return them.
    pub fn prepend(&mut self, n: usize) -> &mut [u8] {
        if self.off < n {
            let grow = n - self.off + MAX_LINKHDR;
            let mut buf = Vec::with_capacity(grow + self.buf.len());
            buf.resize(grow, 0);
            buf.extend_from_slice(&self.buf);
            self.buf = buf;
            self.off += grow;
            if let Some(d) = self.delayed.as_mut() {
                d.start += grow as u32;
            }
        }
        self.off -= n;
        &mut self.buf[self.off..self.off + n]
    }

    /// Append bytes at the end.
    pub fn append(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// A packet of `hdr` zero bytes, then `a` and `b`, with headroom:
    /// built without zeroing what the data will cover.
    pub fn with_header(hdr: usize, a: &[u8], b: &[u8]) -> Mbuf {
        let mut buf = Vec::with_capacity(MAX_LINKHDR + hdr + a.len() + b.len());
        buf.resize(MAX_LINKHDR + hdr, 0);
        buf.extend_from_slice(a);
        buf.extend_from_slice(b);
        Mbuf {
            buf,
            off: MAX_LINKHDR,
            delayed: None,
        }
    }

    /// Leave the transport checksum of the `len`-byte segment at `start`
    /// (from the front of the data) to be computed when needed; its field
    /// at `field` within the segment holds the pseudo-header sum.
    pub fn set_csum_delayed(&mut self, start: usize, len: usize, field: usize) {
        self.delayed = Some(Delayed {
            start: (self.off + start) as u32,
            len: len as u32,
            field: field as u16,
        });
    }

    /// Is a transport checksum still to compute (and the data valid)?
    pub fn csum_delayed(&self) -> bool {
        self.delayed.is_some()
    }

    /// Compute a delayed checksum and store it (`in_delayed_cksum`): the
    /// moment the bytes are to be seen outside the stack.
    pub fn finish_csum(&mut self) {
        if let Some(d) = self.delayed.take() {
            let (start, len, field) = (d.start as usize, d.len as usize, d.field as usize);
            if start >= self.off && field + 2 <= len && start + len <= self.buf.len() {
                let c = crate::wire::checksum::in_cksum(&self.buf[start..start + len]);
                self.buf[start + field..start + field + 2].copy_from_slice(&c.to_be_bytes());
            }
        }
    }

    /// The data as an owned vector.
    pub fn into_vec(mut self) -> Vec<u8> {
        if self.off > 0 {
            self.buf.drain(..self.off);
        }
        self.buf
    }
}

impl std::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mbuf({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_prepend_and_adj() {
        let mut m = Mbuf::from_slice(b"payload");
        m.prepend(4).copy_from_slice(b"hdr:");
        assert_eq!(m.data(), b"hdr:payload");
        m.adj(4);
        assert_eq!(m.data(), b"payload");
        // Beyond the headroom it grows.
        m.prepend(100)[0] = 1;
        assert_eq!(m.len(), 107);
        m.truncate(3);
        assert_eq!(m.len(), 3);
        m.adj(10);
        assert!(m.is_empty());
        let v = Mbuf::from_slice(b"abc");
        assert_eq!(v.into_vec(), b"abc");
    }
}
