//! A client certificate's subject, issuer and serial as the environ carries them, read straight
//! from its DER (X.509, RFC 5280 §4.1: only the walk down to `subject` is needed), and the
//! certificate in PEM. Names are printed as RFC 4514 strings — most specific name first
//! (`CN=alice,O=Example,C=US`), what mod_ssl prints by default — with the usual short names for
//! the usual attributes and `OID=#hex` for the rest.

/// What the environ says about a client certificate.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
}

/// One DER element: its tag and contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// The subject, issuer and serial of a DER certificate; `None` if it cannot be read.
pub fn names(der: &[u8]) -> Option<Names> {
    let (_, cert, _) = element(der).filter(|(tag, _, _)| *tag == SEQUENCE)?;
    let (_, tbs, _) = element(cert).filter(|(tag, _, _)| *tag == SEQUENCE)?;
    let mut rest = tbs;
    // [0] EXPLICIT version, when present.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    let (_, serial, rest) = element(rest)?;
    let (_, _signature, rest) = element(rest)?;
    let (_, issuer, rest) = element(rest)?;
    let (_, _validity, rest) = element(rest)?;
    let (_, subject, _) = element(rest)?;
    Some(Names {
        subject: name(subject)?,
        issuer: name(issuer)?,
        serial: hex(trim_sign(serial)),
    })
}

fn trim_sign(serial: &[u8]) -> &[u8] {
    match serial {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => serial,
    }
}

/// An RDNSequence in RFC 4514 form: the last RDN first, multi-valued RDNs joined with `+`.
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (tag, mut set, rest) = element(rdns)?;
        if tag != SET {
            return None;
        }
        rdns = rest;
        let mut attributes = Vec::new();
        while !set.is_empty() {
            let (_, atv, rest) = element(set)?;
            set = rest;
            let (_, oid, value) = element(atv)?;
            let (value_tag, text, _) = element(value)?;
            let shown = match decode_string(value_tag, text) {
                Some(text) => escape(&text),
                None => format!("#{}", hex(&value[..value.len()])),
            };
            attributes.push(format!("{}={shown}", attribute_name(oid)));
        }
        parts.push(attributes.join("+"));
    }
    parts.reverse();
    Some(parts.join(","))
}

fn attribute_name(oid: &[u8]) -> String {
    const NAMES: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "STREET"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
            "DC",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
            "UID",
        ),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
    ];
    NAMES
        .iter()
        .find(|(known, _)| *known == oid)
        .map_or_else(|| dotted(oid), |(_, name)| (*name).to_owned())
}

/// An OID's dotted form (`2.5.4.3`).
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The directory string types; anything else is shown as hex.
fn decode_string(tag: u8, bytes: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => std::str::from_utf8(bytes).ok().map(str::to_owned),
        // TeletexString: taken as latin-1, as most software does.
        0x14 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UCS-2, big-endian.
        0x1e if bytes.len() % 2 == 0 => char::decode_utf16(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        _ => None,
    }
}

/// RFC 4514 §2.4: the characters that must be escaped in a value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The certificate in PEM (RFC 7468), as `SSL_CLIENT_CERT` carries it.
pub fn pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    fn der(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/certs")
            .join(name);
        rustls_pki_types::CertificateDer::from_pem_file(path)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn client_certificate_names() {
        let names = names(&der("client.pem")).unwrap();
        assert_eq!(names.subject, "CN=alice,O=Pyrite Test,C=US");
        assert_eq!(names.issuer, "CN=Pyrite Test CA,O=Pyrite Test");
        assert!(!names.serial.is_empty());
        assert!(names.serial.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn pem_round_trips() {
        let der = der("client.pem");
        let back = rustls_pki_types::CertificateDer::from_pem_slice(pem(&der).as_bytes()).unwrap();
        assert_eq!(back.as_ref(), &der[..]);
        let file = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certs/client.pem"),
        )
        .unwrap();
        assert_eq!(pem(&der), file);
    }

    #[test]
    fn oddities() {
        assert_eq!(dotted(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(escape(" a,b "), "\\ a\\,b\\ ");
        assert_eq!(escape("#x"), "\\#x");
        assert!(names(&[0x30, 0x05, 0x01]).is_none());
    }
}
