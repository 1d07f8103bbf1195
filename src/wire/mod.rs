//! Packets as bytes: views and the checksum, below every layer (it
//! imports nothing of the stack).

pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod udp;
