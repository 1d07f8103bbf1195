//! ICMP messages (RFC 792) as bytes: a view with named fields, in the
//! manner of smoltcp's `wire`. The second word means what the type says:
//! an echo's identifier and sequence number, a redirect's gateway, the
//! next-hop MTU of "fragmentation needed", a parameter problem's pointer.

use crate::wire::checksum::in_cksum;

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const GATEWAY: Range<usize> = 4..8;
    pub const POINTER: usize = 4;
    pub const NEXT_MTU: Range<usize> = 6..8;
    pub const TS_RECEIVE: Range<usize> = 12..16;
    pub const TS_TRANSMIT: Range<usize> = 16..20;
}

/// A timestamp message's length (RFC 792).
pub const ICMP_TSLEN: usize = 20;

/// The fixed part of every message.
pub const ICMP_MINLEN: usize = 8;

/// A view over an ICMP message.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with nothing checked: reading a field past the end panics.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// The bytes viewed.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// A view over a message of at least the fixed 8 bytes.
    pub fn new_checked(buffer: T) -> Option<Packet<T>> {
        (buffer.as_ref().len() >= ICMP_MINLEN).then_some(Packet { buffer })
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    pub fn echo_ident(&self) -> u16 {
        self.be16(field::ECHO_IDENT)
    }

    pub fn echo_seq_no(&self) -> u16 {
        self.be16(field::ECHO_SEQNO)
    }

    /// A redirect's gateway.
    pub fn gateway(&self) -> u32 {
        super::be32(&self.buffer.as_ref()[field::GATEWAY])
    }

    /// A parameter problem's pointer.
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// "Fragmentation needed"'s next-hop MTU (RFC 1191).
    pub fn next_mtu(&self) -> u16 {
        self.be16(field::NEXT_MTU)
    }

    /// What follows the fixed part: an echo's data, an error's quote.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[ICMP_MINLEN..]
    }

    /// The checksum over the whole message is right.
    pub fn verify_checksum(&self) -> bool {
        in_cksum(self.buffer.as_ref()) == 0
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        super::be16(&self.buffer.as_ref()[r])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, t: u8) {
        self.buffer.as_mut()[field::TYPE] = t;
    }

    pub fn set_code(&mut self, c: u8) {
        self.buffer.as_mut()[field::CODE] = c;
    }

    pub fn set_echo_ident(&mut self, id: u16) {
        self.buffer.as_mut()[field::ECHO_IDENT].copy_from_slice(&id.to_be_bytes());
    }

    pub fn set_echo_seq_no(&mut self, seq: u16) {
        self.buffer.as_mut()[field::ECHO_SEQNO].copy_from_slice(&seq.to_be_bytes());
    }

    pub fn set_gateway(&mut self, gw: u32) {
        self.buffer.as_mut()[field::GATEWAY].copy_from_slice(&gw.to_be_bytes());
    }

    pub fn set_next_mtu(&mut self, mtu: u16) {
        self.buffer.as_mut()[field::NEXT_MTU].copy_from_slice(&mtu.to_be_bytes());
    }

    /// A timestamp reply's receive and transmit times (the message must
    /// be [`ICMP_TSLEN`] long).
    pub fn set_timestamps(&mut self, receive: u32, transmit: u32) {
        let b = self.buffer.as_mut();
        b[field::TS_RECEIVE].copy_from_slice(&receive.to_be_bytes());
        b[field::TS_TRANSMIT].copy_from_slice(&transmit.to_be_bytes());
    }

    /// Compute the checksum over the whole message afresh.
    pub fn fill_checksum(&mut self) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let s = in_cksum(self.buffer.as_ref());
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&s.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_written_checks_and_reads_back() {
        let mut b = [0u8; 12];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(8);
        p.set_echo_ident(0x1234);
        p.set_echo_seq_no(7);
        p.fill_checksum();
        let p = Packet::new_checked(&b[..]).expect("8 bytes and more");
        assert_eq!(
            (p.msg_type(), p.code(), p.echo_ident(), p.echo_seq_no()),
            (8, 0, 0x1234, 7)
        );
        assert!(p.verify_checksum());
        assert_eq!(p.data().len(), 4);
        assert!(Packet::new_checked(&b[..7]).is_none());
    }
}
