//! bgpd
