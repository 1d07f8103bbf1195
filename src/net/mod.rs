//! Link layer and interfaces (sys/net).

pub mod bpf;
pub mod bridge;
pub mod ethernet;
pub mod if_clone;
pub mod if_media;
pub mod if_tunnel;
pub mod if_vlan;
pub mod ifnet;
pub mod pipe;
pub mod radix;
pub mod route;
pub mod rtsock;
pub mod tap;
