//! GRE headers (RFC 2784, with RFC 2890's key and sequence number) as
//! bytes: a view with named fields, in the manner of smoltcp's `wire`.
//! The optional words follow in order: checksum (and reserved), key,
//! sequence number.

/// Where the fixed fields lie.
mod field {
    use std::ops::Range;
    pub const FLAGS: Range<usize> = 0..2;
    pub const PROTOCOL: Range<usize> = 2..4;
}

/// Checksum present.
pub const GRE_CP: u16 = 0x8000;
/// Key present.
pub const GRE_KP: u16 = 0x2000;
/// Sequence number present.
pub const GRE_SP: u16 = 0x1000;
/// The version bits.
pub const GRE_VERS: u16 = 0x0007;

/// A view over a GRE header and what it carries.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view over a header whose fixed part and every word its flags
    /// announce are there.
    pub fn new_checked(buffer: T) -> Option<Packet<T>> {
        let d = buffer.as_ref();
        if d.len() < 4 {
            return None;
        }
        let p = Packet { buffer };
        (p.header_len() <= p.buffer.as_ref().len()).then_some(p)
    }

    /// A view over a header whose fixed part is there; the optional words
    /// may be cut off (read them with `key`, `seq`, which say `None`).
    pub fn new_truncated(buffer: T) -> Option<Packet<T>> {
        (buffer.as_ref().len() >= 4).then_some(Packet { buffer })
    }

    pub fn flags(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::FLAGS])
    }

    pub fn version(&self) -> u16 {
        self.flags() & GRE_VERS
    }

    /// The type of what it carries (an ethertype).
    pub fn protocol(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The fixed part and the optional words.
    pub fn header_len(&self) -> usize {
        let f = self.flags();
        4 + [GRE_CP, GRE_KP, GRE_SP].iter().filter(|&&b| f & b != 0).count() * 4
    }

    /// The key (RFC 2890), if present.
    pub fn key(&self) -> Option<u32> {
        self.word(GRE_KP, 4 + self.present(GRE_CP))
    }

    /// The sequence number (RFC 2890), if present.
    pub fn seq(&self) -> Option<u32> {
        self.word(GRE_SP, 4 + self.present(GRE_CP) + self.present(GRE_KP))
    }

    /// What it carries.
    pub fn payload(&self) -> &[u8] {
        let d = self.buffer.as_ref();
        &d[self.header_len().min(d.len())..]
    }

    fn present(&self, bit: u16) -> usize {
        if self.flags() & bit != 0 { 4 } else { 0 }
    }

    fn word(&self, bit: u16, at: usize) -> Option<u32> {
        (self.flags() & bit != 0).then_some(())?;
        Some(super::be32(self.buffer.as_ref().get(at..at + 4)?))
    }
}

/// Write a header carrying `proto`, with `key` if given, into the front
/// of `b` (4 or 8 bytes); its length.
pub fn emit(b: &mut [u8], proto: u16, key: Option<u32>) -> usize {
    let flags = if key.is_some() { GRE_KP } else { 0 };
    b[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
    b[field::PROTOCOL].copy_from_slice(&proto.to_be_bytes());
    match key {
        Some(k) => {
            b[4..8].copy_from_slice(&k.to_be_bytes());
            8
        }
        None => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_sequence_numbers_are_found_after_what_comes_before() {
        let mut b = [0u8; 12];
        assert_eq!(emit(&mut b, 0x0800, Some(7)), 8);
        let p = Packet::new_checked(&b[..]).expect("whole");
        assert_eq!(
            (p.protocol(), p.key(), p.seq(), p.header_len(), p.payload().len()),
            (0x0800, Some(7), None, 8, 4)
        );
        // Checksum, key and sequence number: 16 bytes of header.
        b[0] = 0xb0;
        b[1] = 0;
        let p = Packet::new_truncated(&b[..]).expect("fixed part");
        assert_eq!((p.header_len(), p.key(), p.seq()), (16, Some(0), None));
        assert!(Packet::new_checked(&b[..]).is_none());
    }
}
