//! Removing the admin password without sending it: [`Scrub`] carries salted SHA-256 digests of
//! the password and of the encodings Windows Setup writes for it (never the value), and
//! [`Scrub::powershell`] is the script part that finds those digests in the agents'
//! configuration and answer files, Windows' own answer-file places, leftover scripts in
//! `C:\Windows\Temp` and Winlogon's `DefaultPassword`, removes them and reports where.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use amiforge_profile::compile::ps::quote;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use super::detect::Agent;
use super::scripts::ps_array;

/// One encoding of the secret to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub label: &'static str,
    /// Length in UTF-16 code units (what PowerShell's `Substring` counts).
    pub len: usize,
    /// sha256(salt ‖ text), lowercase hex.
    pub sha256: String,
}

/// What the script needs to find and remove the admin password without knowing it.
#[derive(Clone, PartialEq, Eq)]
pub struct Scrub {
    pub salt: String,
    pub forms: Vec<Form>,
}

impl std::fmt::Debug for Scrub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrub({} forms)", self.forms.len())
    }
}

/// A fresh random salt (32 hex digits).
pub fn random_salt() -> String {
    let mut out = String::new();
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let _ = write!(out, "{:016x}", h.finish());
    }
    out
}

/// The forms Windows Setup writes answer-file passwords in: base64 of UTF-16LE of the password
/// followed by `suffix` (`AdministratorPassword`, `Password`, or nothing).
pub fn unattend_encoding(pw: &str, suffix: &str) -> String {
    let utf16: Vec<u8> = format!("{pw}{suffix}")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(utf16)
}

/// Every text form the password may take on the machine or in what comes back from it: the
/// plaintext and its answer-file encodings (all masked wherever the plugin prints or writes).
pub fn every_form(pw: &str) -> Vec<String> {
    vec![
        pw.to_string(),
        unattend_encoding(pw, "AdministratorPassword"),
        unattend_encoding(pw, "Password"),
        unattend_encoding(pw, ""),
    ]
}

impl Scrub {
    /// Digests of the plaintext and of the two encodings Windows Setup writes for answer-file
    /// passwords (base64 of UTF-16LE of the password followed by `AdministratorPassword` or
    /// `Password`).
    pub fn new(secret: &SecretString, salt: &str) -> Scrub {
        let pw = secret.expose_secret();
        let encoded = |suffix: &str| unattend_encoding(pw, suffix);
        let form = |label, text: &str| Form {
            label,
            len: text.encode_utf16().count(),
            sha256: amiforge_model::sha256_hex(format!("{salt}{text}").as_bytes()),
        };
        Scrub {
            salt: salt.to_string(),
            forms: vec![
                form("plaintext", pw),
                form(
                    "unattend AdministratorPassword",
                    &encoded("AdministratorPassword"),
                ),
                form("unattend Password", &encoded("Password")),
            ],
        }
    }

    /// The script part that removes the password (needs `Out-Tag`); prints `removed` lines and
    /// one `scrubbed` line.
    pub fn powershell(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "$Salt = {}", quote(&self.salt));
        let forms = self.forms.iter().map(|f| {
            format!(
                "@{{ Label = {}; Chars = {}; Digest = {} }}",
                quote(f.label),
                f.len,
                quote(&f.sha256)
            )
        });
        s.push_str(&ps_array("Forms", forms));
        s.push_str(FUNCTIONS);
        s.push_str(&ps_array("ScrubPaths", scrub_paths()));
        s.push_str(REMOVE);
        s
    }
}

/// Where Windows itself keeps answer files, and the leftovers of a build (PowerShell).
const WINDOWS_PLACES: [&str; 10] = [
    r"(Join-Path $env:WINDIR 'Panther\unattend.xml')",
    r"(Join-Path $env:WINDIR 'Panther\Unattend\unattend.xml')",
    r"(Join-Path $env:WINDIR 'System32\Sysprep\unattend.xml')",
    r"(Join-Path $env:SystemDrive 'unattend.xml')",
    r"(Join-Path $env:WINDIR 'Temp\*.ps1')",
    r"(Join-Path $env:WINDIR 'Temp\*.cmd')",
    r"(Join-Path $env:WINDIR 'Temp\*.bat')",
    r"(Join-Path $env:WINDIR 'Temp\*.txt')",
    r"(Join-Path $env:WINDIR 'Temp\*.xml')",
    r"(Join-Path $env:WINDIR 'Temp\*.json')",
];

/// Every place searched: each agent's configuration and answer file, then Windows' places.
fn scrub_paths() -> Vec<String> {
    Agent::ALL
        .into_iter()
        .flat_map(|a| [a.config_file().powershell(), a.answer_file().powershell()])
        .chain(WINDOWS_PLACES.map(String::from))
        .collect()
}

const FUNCTIONS: &str = r#"
# Finds the admin password by salted digest (the value itself never reaches this machine)
$Sha = [Security.Cryptography.SHA256]::Create()
function Get-Digest {
    param([string]$Text)
    $bytes = $Sha.ComputeHash([Text.Encoding]::UTF8.GetBytes($Salt + $Text))
    return ([BitConverter]::ToString($bytes)).Replace('-', '').ToLowerInvariant()
}

function Remove-Secret {
    param([string]$Text)
    $count = 0
    foreach ($form in $Forms) {
        $i = 0
        while ($i -le $Text.Length - $form.Chars) {
            if ((Get-Digest -Text $Text.Substring($i, $form.Chars)) -eq $form.Digest) {
                $Text = $Text.Remove($i, $form.Chars)
                $count++
            } else {
                $i++
            }
        }
    }
    return @($Text, $count)
}

"#;

const REMOVE: &str = r#"$removed = 0
foreach ($pattern in $ScrubPaths) {
    foreach ($file in @(Get-ChildItem -Path $pattern -File -ErrorAction SilentlyContinue)) {
        if ($file.Length -gt 1048576) { continue }
        $reader = New-Object -TypeName System.IO.StreamReader -ArgumentList $file.FullName, $true
        $text = $reader.ReadToEnd()
        $encoding = $reader.CurrentEncoding
        $reader.Close()
        $result = Remove-Secret -Text $text
        if ($result[1] -gt 0) {
            [IO.File]::WriteAllText($file.FullName, $result[0], $encoding)
            Out-Tag 'removed', $file.FullName, "$($result[1]) occurrence(s)"
            $removed++
        }
    }
}
$winlogon = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon'
$autoLogon = Get-ItemProperty -LiteralPath $winlogon -Name DefaultPassword -ErrorAction SilentlyContinue
if ($null -ne $autoLogon -and (Remove-Secret -Text "$($autoLogon.DefaultPassword)")[1] -gt 0) {
    Remove-ItemProperty -LiteralPath $winlogon -Name DefaultPassword
    Set-ItemProperty -LiteralPath $winlogon -Name AutoAdminLogon -Value '0'
    Out-Tag 'removed', "$winlogon\DefaultPassword", 'registry value (AutoAdminLogon set to 0)'
    $removed++
}
Out-Tag 'scrubbed', "$removed"
"#;

#[cfg(test)]
mod tests {
    use super::super::scripts::{RunPlan, run_script};
    use super::*;

    #[test]
    fn the_scrub_carries_digests_not_the_password() {
        let secret = SecretString::from("Pa55-wörd'x");
        let a = Scrub::new(&secret, "00ff");
        let b = Scrub::new(&secret, "00fe");
        assert_eq!(a.forms.len(), 3);
        assert_eq!(a.forms[0].len, 11);
        assert_ne!(a.forms[0].sha256, b.forms[0].sha256, "salted");
        assert_eq!(
            a.forms[0].sha256,
            amiforge_model::sha256_hex("00ffPa55-wörd'x".as_bytes())
        );
        let plan = RunPlan {
            agent: Agent::Ec2LaunchV2,
            shutdown: false,
            clean_logs: true,
            scrub: Some(a),
            remove_appx: vec![],
            wait_seconds: 900,
        };
        let text = run_script(&plan);
        assert!(!text.contains("Pa55"));
        // nor the reversible encodings
        let enc = base64::engine::general_purpose::STANDARD.encode(
            "Pa55-wörd'xAdministratorPassword"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>(),
        );
        assert!(!text.contains(&enc));
        assert_eq!(random_salt().len(), 32);
        assert_ne!(random_salt(), random_salt());
    }
}
