//! Channels that carry replies to customers: email auto-replies (RFC 3834).

pub mod mail;
