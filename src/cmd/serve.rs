//! `careplans serve`: build in memory, serve, watch, rebuild, push reloads.

use std::path::Path;

use anyhow::Result;

use crate::cli::ServeArgs;
use crate::serve::{self, Ended, ServeOptions};

use super::{EXIT_OK, EXIT_USAGE};

pub fn run(root: &Path, args: &ServeArgs) -> Result<u8> {
    let options = ServeOptions {
        host: args.host.clone(),
        port: args.port,
        open: args.open,
        allow_hosts: args.allow_host.clone(),
    };
    Ok(match serve::run(root, &options)? {
        Ended::Stopped => EXIT_OK,
        Ended::PortInUse => EXIT_USAGE,
    })
}
