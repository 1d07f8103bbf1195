//! Socket receive buffers (after `uipc_sockbuf.c`): the packets that
//! brought the data, queued as they came (`sbappend`) and copied out only
//! when the reader reads (`soreceive`) — one copy on the way in saved.

use std::collections::VecDeque;

use crate::kern::mbuf::Mbuf;

/// Bytes to read, in the packets that carried them.
#[derive(Debug, Default)]
pub struct SockBuf {
    /// Each holds exactly its unread bytes.
    q: VecDeque<Mbuf>,
    len: usize,
}

impl SockBuf {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `sbappend`: the `len` bytes at `off` in `m`.
    pub fn append(&mut self, mut m: Mbuf, off: usize, len: usize) {
        m.adj(off);
        m.truncate(len);
        if !m.is_empty() {
            self.len += m.len();
            self.q.push_back(m);
        }
    }

    /// Append bytes that are not in a packet (reassembled data).
    pub fn append_vec(&mut self, v: Vec<u8>) {
        let n = v.len();
        self.append(Mbuf::from_vec(v), 0, n);
    }

    /// Copy out up to `buf.len()` bytes, in order, and drop them.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(m) = self.q.front_mut() else { break };
            let k = m.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&m.data()[..k]);
            n += k;
            if k == m.len() {
                self.q.pop_front();
            } else {
                m.adj(k);
            }
        }
        self.len -= n;
        n
    }

    /// Everything unread, copied (for tests and debugging).
    pub fn to_vec(&self) -> Vec<u8> {
        self.q.iter().flat_map(|m| m.data().iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cross_packets_and_keep_the_rest() {
        let mut s = SockBuf::default();
        s.append(Mbuf::from_slice(b"HDRabcdeTRAILER"), 3, 5);
        s.append_vec(b"fgh".to_vec());
        assert_eq!(s.len(), 8);
        let mut b = [0u8; 6];
        assert_eq!(s.read(&mut b), 6);
        assert_eq!(&b, b"abcdef");
        assert_eq!(s.to_vec(), b"gh");
        assert_eq!(s.read(&mut b), 2);
        assert!(s.is_empty());
    }
}
