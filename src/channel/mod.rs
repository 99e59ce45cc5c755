//! Channels that carry replies to customers: email auto-replies (RFC 3834).

pub mod address;
pub mod mail;
