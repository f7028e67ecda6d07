//! gunicorn's values (as its Python configuration file holds them) turned into pyrite flag
//! values: lists, switches, umasks written as Python integers, `ssl.CERT_*` numbers.

use serde_json::Value;

/// How a gunicorn value becomes a pyrite flag's value(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convert {
    /// One value, as text.
    Plain,
    /// A string or a list: one flag per item (`bind`, `raw_env`, `reload_extra_files`).
    Each,
    /// A string or a list, joined with commas (`forwarded_allow_ips`, `pythonpath`).
    Joined,
    /// True sets the flag; false leaves it.
    Switch,
    /// An integer (`0o22`) or a Python integer literal, as octal text.
    Umask,
    /// `ssl.CERT_NONE/OPTIONAL/REQUIRED` (0, 1, 2) as pyrite's words.
    CertReqs,
}

/// A gunicorn value as pyrite flag values (empty: leave the flag unset).
pub fn convert(value: &Value, how: Convert) -> Result<Vec<String>, String> {
    let scalar = |v: &Value| -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("expected a string or a number, not {other}")),
        }
    };
    let items = |v: &Value| -> Result<Vec<String>, String> {
        match v {
            Value::Array(items) => items.iter().map(scalar).collect(),
            other => Ok(vec![scalar(other)?]),
        }
    };
    match how {
        _ if value.is_null() => Ok(Vec::new()),
        Convert::Plain => Ok(vec![scalar(value)?]),
        Convert::Each => items(value),
        Convert::Joined => Ok(vec![items(value)?.join(",")]),
        Convert::Switch => match value {
            Value::Bool(true) => Ok(vec!["true".into()]),
            Value::Bool(false) => Ok(Vec::new()),
            other => Err(format!("expected True or False, not {other}")),
        },
        Convert::Umask => {
            let n = match value {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => python_int(s),
                _ => None,
            };
            n.map(|n| vec![format!("{n:o}")])
                .ok_or_else(|| format!("expected an integer such as 0o22, not {value}"))
        }
        Convert::CertReqs => match value.as_u64() {
            Some(0) => Ok(vec!["none".into()]),
            Some(1) => Ok(vec!["optional".into()]),
            Some(2) => Ok(vec!["required".into()]),
            _ => Err(format!(
                "expected ssl.CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED, not {value}"
            )),
        },
    }
}

/// A Python integer literal as `int(text, 0)` reads it (`0o22`, `0x12`, `18`).
fn python_int(text: &str) -> Option<u64> {
    let t = text.trim().replace('_', "");
    let (digits, radix) = match t.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("0o") => (&t[2..], 8),
        Some("0x") => (&t[2..], 16),
        Some("0b") => (&t[2..], 2),
        _ if t.len() > 1 && t.starts_with('0') => return None,
        _ => (&t[..], 10),
    };
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(convert(&v("18"), Convert::Umask).unwrap(), ["22"]);
        assert_eq!(convert(&v(r#""0o22""#), Convert::Umask).unwrap(), ["22"]);
        assert!(convert(&v(r#""022""#), Convert::Umask).is_err());
        assert_eq!(
            convert(&v(r#"["a:1", "b:2"]"#), Convert::Each).unwrap(),
            ["a:1", "b:2"]
        );
        assert_eq!(
            convert(&v(r#"["10.0.0.1", "::1"]"#), Convert::Joined).unwrap(),
            ["10.0.0.1,::1"]
        );
        assert_eq!(
            convert(&v("false"), Convert::Switch).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(convert(&v("2"), Convert::CertReqs).unwrap(), ["required"]);
    }
}
