$AF_MODE = 'enforce'
try {
    AF-Facts
    # reg: registry
    AF-Control 'reg' { AF-RegCheck 'HKLM:\SOFTWARE\It''s' 'V' 'dword' '1' } { AF-RegFix 'HKLM:\SOFTWARE\It''s' 'V' 'dword' '1' }
    # audit: audit
    AF-Control 'audit' { AF-AuditCheck 'Logon' 'Success and Failure' } { AF-AuditFix 'Logon' 'Success and Failure' }
    # svc: service
    AF-Control 'svc' { AF-ServiceCheck 'Spooler' 'Disabled' } { AF-ServiceFix 'Spooler' 'Disabled' }
    # feat: feature
    AF-Control 'feat' { AF-FeatureCheck 'PowerShell-V2' $false } { AF-FeatureFix 'PowerShell-V2' $false }
    # opt: optional
    AF-Control 'opt' { AF-OptionalCheck 'SMB1Protocol' $false } { AF-OptionalFix 'SMB1Protocol' $false }
    # pol: policy
    AF-Control 'pol' { AF-SecPolCheck 'MinimumPasswordLength' '14' 'ge' } { AF-SecPolFix 'MinimumPasswordLength' '14' }
    AF-Inventory
    AF-Evidence (Join-Path $env:TEMP ('amiforge-evidence-' + [guid]::NewGuid() + '.json')) 600
    [Console]::Out.WriteLine('AMIFORGE-DONE')
} catch {
    [Console]::Error.WriteLine('amiforge-harden: ' + $_.Exception.Message)
    exit 3
} finally {
    Remove-Item -LiteralPath $PSCommandPath -Force -ErrorAction SilentlyContinue
}
