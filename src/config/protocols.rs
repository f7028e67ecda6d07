//! The protocol flags: which listeners are TLS (`https://` binds, or every bind when
//! `--certfile` is given without one, as gunicorn does), the certificates (loaded and checked
//! here, in the master, so a bad one stops the start with one line), `--http` and the
//! `--http2-*` limits.

use super::args::Args;
use super::error::ConfigError;
use super::parse::bind_scheme;
use crate::negotiate::{Settings, Versions};
use crate::tls::{self, CertReqs};

pub fn protocols(args: &Args) -> Result<Settings, ConfigError> {
    let versions =
        Versions::parse(&args.http).ok_or_else(|| ConfigError::Http(args.http.clone()))?;
    let schemes: Vec<Option<bool>> = args.bind.iter().map(|b| bind_scheme(b).0).collect();
    let explicit = schemes.contains(&Some(true));
    let tls_settings = tls_settings(args, versions)?;
    if explicit && tls_settings.is_none() {
        return Err(ConfigError::TlsFlags(
            "--bind https://…: needs --certfile (and --keyfile)".to_owned(),
        ));
    }
    let everywhere = tls_settings.is_some() && !explicit;
    let tls_listeners = schemes
        .iter()
        .map(|s| s.unwrap_or(false) || everywhere)
        .collect();
    let tls = tls_settings.as_ref().map(tls::Acceptor::load).transpose()?;
    Ok(Settings {
        tls_listeners,
        tls_by_default: everywhere,
        tls_settings,
        tls,
        versions,
        h2: h2_settings(args)?,
    })
}

fn tls_settings(args: &Args, versions: Versions) -> Result<Option<tls::Settings>, ConfigError> {
    let cert_reqs = CertReqs::parse(&args.cert_reqs)
        .ok_or_else(|| ConfigError::CertReqs(args.cert_reqs.clone()))?;
    let Some(cert_file) = &args.certfile else {
        if args.keyfile.is_some() || args.ca_certs.is_some() {
            return Err(ConfigError::TlsFlags(
                "--keyfile and --ca-certs need --certfile".to_owned(),
            ));
        }
        return Ok(None);
    };
    if cert_reqs != CertReqs::None && args.ca_certs.is_none() {
        return Err(ConfigError::TlsFlags(format!(
            "--cert-reqs {}: needs --ca-certs to verify client certificates against",
            args.cert_reqs
        )));
    }
    let absolute = |p: &std::path::Path| super::parse::absolute(p);
    Ok(Some(tls::Settings {
        cert_file: absolute(cert_file),
        key_file: absolute(args.keyfile.as_deref().unwrap_or(cert_file)),
        ca_certs: args.ca_certs.as_deref().map(absolute),
        cert_reqs,
        alpn: versions.alpn(),
    }))
}

fn h2_settings(args: &Args) -> Result<crate::h2::Settings, ConfigError> {
    const WINDOW: std::ops::RangeInclusive<u32> = 65_535..=2_147_483_647;
    let check = |ok: bool, flag: &'static str, why: &'static str| {
        if ok {
            Ok(())
        } else {
            Err(ConfigError::Limit(flag, why))
        }
    };
    check(
        args.http2_max_concurrent_streams >= 1,
        "--http2-max-concurrent-streams",
        "must be at least 1",
    )?;
    check(
        args.http2_max_header_list_size >= 1024,
        "--http2-max-header-list-size",
        "must be at least 1024",
    )?;
    check(
        WINDOW.contains(&args.http2_initial_stream_window_size),
        "--http2-initial-stream-window-size",
        "must be from 65535 to 2147483647",
    )?;
    check(
        WINDOW.contains(&args.http2_initial_connection_window_size),
        "--http2-initial-connection-window-size",
        "must be from 65535 to 2147483647",
    )?;
    check(
        (16_384..=16_777_215).contains(&args.http2_max_frame_size),
        "--http2-max-frame-size",
        "must be from 16384 to 16777215",
    )?;
    check(
        args.http2_max_send_buffer_size >= 16_384,
        "--http2-max-send-buffer-size",
        "must be at least 16384",
    )?;
    check(
        !args.http2_keep_alive_timeout.is_zero(),
        "--http2-keep-alive-timeout",
        "must be more than 0",
    )?;
    Ok(crate::h2::Settings {
        max_concurrent_streams: args.http2_max_concurrent_streams,
        max_header_list_size: args.http2_max_header_list_size,
        initial_stream_window: args.http2_initial_stream_window_size,
        initial_connection_window: args.http2_initial_connection_window_size,
        max_frame_size: args.http2_max_frame_size,
        max_send_buffer: args.http2_max_send_buffer_size as usize,
        keep_alive_interval: Some(args.http2_keep_alive_interval).filter(|d| !d.is_zero()),
        keep_alive_timeout: args.http2_keep_alive_timeout,
        max_reset_streams: args.http2_max_reset_streams,
    })
}
