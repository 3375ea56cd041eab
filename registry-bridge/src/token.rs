//! Tokens of the Docker registry token specification: ES256 JWTs whose header carries the
//! signing certificate (`x5c`), which Distribution checks against its `rootcertbundle`.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use time::OffsetDateTime;

use crate::scope::Access;
use crate::{Error, ISSUER, Result, SERVICE};

/// How long a token lives. Short: revoking a robot stops new tokens at once, and a token
/// already issued lives out at most this.
pub const TOKEN_TTL_SECS: i64 = 300;

/// Makes the installation's signing key: ECDSA P-256 (PKCS#8 PEM) and a self-signed
/// certificate for it (PEM), the `rootcertbundle` of every namespace's registry.
///
/// # Errors
/// [`Error::Signing`] if key generation fails.
pub fn generate_signing_key() -> Result<(String, String)> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| Error::Signing(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| Error::Signing(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "RustShare registry token signer");
    params.not_before = OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = OffsetDateTime::now_utc() + time::Duration::days(3650);
    let cert = params.self_signed(&key).map_err(|e| Error::Signing(e.to_string()))?;
    Ok((key.serialize_pem(), cert.pem()))
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: &'a str,
    access: &'a [Access],
}

/// A token as the token endpoint answers it.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    /// The JWT.
    pub token: String,
    /// The same, under the OAuth2 name some clients read.
    pub access_token: String,
    /// Lifetime, seconds.
    pub expires_in: i64,
    /// Issue time, RFC 3339.
    pub issued_at: String,
    /// Unique id, for the audit log.
    #[serde(skip)]
    pub jti: String,
}

/// Signs tokens with the installation's key.
pub struct Issuer {
    key: EncodingKey,
    x5c: String,
    cert_pem: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issuer { .. }")
    }
}

impl Issuer {
    /// From the PKCS#8 key and certificate PEMs of [`generate_signing_key`].
    ///
    /// # Errors
    /// [`Error::Signing`] for unreadable PEM.
    pub fn new(key_pem: &str, cert_pem: &str) -> Result<Self> {
        let key = EncodingKey::from_ec_pem(key_pem.as_bytes()).map_err(|e| Error::Signing(format!("signing key: {e}")))?;
        let der = cert_der(cert_pem)?;
        Ok(Self {
            key,
            x5c: base64::engine::general_purpose::STANDARD.encode(der),
            cert_pem: cert_pem.to_owned(),
        })
    }

    /// The certificate (PEM) registries must trust: their `rootcertbundle`.
    #[must_use]
    pub fn certificate(&self) -> &str {
        &self.cert_pem
    }

    /// A token for `subject` granting `access`.
    ///
    /// # Errors
    /// [`Error::Signing`].
    pub fn issue(&self, subject: &str, access: &[Access]) -> Result<Issued> {
        let now = OffsetDateTime::now_utc();
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let mut header = Header::new(Algorithm::ES256);
        header.x5c = Some(vec![self.x5c.clone()]);
        let claims = Claims {
            iss: ISSUER,
            sub: subject,
            aud: SERVICE,
            exp: now.unix_timestamp() + TOKEN_TTL_SECS,
            // A little slack for clocks that differ between the edge and the registry.
            nbf: now.unix_timestamp() - 10,
            iat: now.unix_timestamp(),
            jti: &jti,
            access,
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| Error::Signing(e.to_string()))?;
        Ok(Issued {
            access_token: token.clone(),
            token,
            expires_in: TOKEN_TTL_SECS,
            issued_at: now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            jti,
        })
    }
}

/// The DER bytes of the first certificate in a PEM text.
fn cert_der(pem: &str) -> Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END CERTIFICATE-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| Error::Signing(format!("certificate: {e}")))
        .and_then(|d| {
            if d.is_empty() {
                Err(Error::Signing("no certificate in PEM".into()))
            } else {
                Ok(d)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn tokens_verify_with_the_certificate_key_and_carry_the_claims() {
        let (key, cert) = generate_signing_key().expect("key");
        let issuer = Issuer::new(&key, &cert).expect("issuer");
        let access = vec![Access {
            kind: "repository".into(),
            name: "kubedo/app".into(),
            actions: vec!["pull".into()],
        }];
        let t = issuer.issue("kubedo+ci", &access).expect("token");
        assert_eq!(t.token, t.access_token);
        let h = jsonwebtoken::decode_header(&t.token).expect("header");
        assert_eq!(h.alg, Algorithm::ES256);
        let x5c = h.x5c.expect("x5c");
        assert_eq!(
            base64::engine::general_purpose::STANDARD.decode(&x5c[0]).expect("der"),
            cert_der(&cert).expect("der")
        );
        // Verify with the public key inside the certificate, as Distribution does.
        let pk = rcgen::KeyPair::from_pem(&key).expect("pem").public_key_raw().to_vec();
        let dk = DecodingKey::from_ec_der(&pk);
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[SERVICE]);
        v.set_issuer(&[ISSUER]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&t.token, &dk, &v).expect("valid");
        assert_eq!(data.claims["sub"], "kubedo+ci");
        assert_eq!(data.claims["access"][0]["type"], "repository");
        assert_eq!(data.claims["access"][0]["actions"][0], "pull");
        assert_eq!(data.claims["jti"], t.jti.as_str());
        let exp = data.claims["exp"].as_i64().expect("exp");
        assert!(exp - data.claims["iat"].as_i64().expect("iat") == TOKEN_TTL_SECS);
        // Another key does not verify it.
        let (other, _) = generate_signing_key().expect("key");
        let pk2 = rcgen::KeyPair::from_pem(&other).expect("pem").public_key_raw().to_vec();
        assert!(jsonwebtoken::decode::<serde_json::Value>(&t.token, &DecodingKey::from_ec_der(&pk2), &v).is_err());
    }

    #[test]
    fn bad_pem_is_refused() {
        assert!(Issuer::new("nope", "nope").is_err());
        let (key, _) = generate_signing_key().expect("key");
        assert!(Issuer::new(&key, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").is_err());
    }
}
