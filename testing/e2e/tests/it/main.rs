//! End-to-end tests: a real etcd, real OSD, meta and gateway processes on
//! 127.0.0.1, driven with real clients (`aws-sdk-s3` at default settings,
//! raw HTTP for edge cases).

mod admin;
mod adminplane;
mod auth;
mod authz;
mod backup;
mod badinput;
mod capacity;
mod chaos;
mod checksums;
mod common;
mod config;
mod copy;
mod delete;
mod etcdsec;
mod failures;
mod hostile;
mod lifecycle;
mod list;
mod lock;
mod metaha;
mod multipart;
mod ops;
mod post;
mod rebuild;
mod records;
mod recovery;
mod repair;
mod roundtrip;
mod settings;
mod sse;
mod tls;
mod versioning;
