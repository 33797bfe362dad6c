# --- amiforge-harden runtime (Windows PowerShell 5.1+). Each check returns a hashtable
# @{ Code = 0 compliant | 1 not compliant | 2 not applicable | 3 configured, effective after a
# restart; Value = what it saw; Detail = why }. AF-Control drives check, fix, re-check.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function AF-Result([int]$Code, [string]$Value, [string]$Detail) {
    return @{ Code = $Code; Value = $Value; Detail = $Detail }
}

function AF-Emit([string]$Id, [string]$Status, [bool]$Changed, [string]$Before, [string]$After, [string]$Detail) {
    $o = [ordered]@{ id = $Id; status = $Status; changed = $Changed; before = $Before; after = $After; detail = $Detail }
    [Console]::Out.WriteLine('AMIFORGE-RESULT ' + ($o | ConvertTo-Json -Compress))
}

function AF-Skip([string]$Id, [string]$Reason) { AF-Emit $Id 'not_applicable' $false '' '' $Reason }

function AF-Compare([string]$Have, [string]$Want, [string]$Op) {
    switch ($Op) {
        'eq' { return $Have -ieq $Want }
        'le' { $n = 0; if (-not [long]::TryParse($Have, [ref]$n)) { return $false }; return $n -le [long]$Want }
        'ge' { $n = 0; if (-not [long]::TryParse($Have, [ref]$n)) { return $false }; return $n -ge [long]$Want }
        'one_of' { return @($Want -split '\|') -icontains $Have }
    }
    return $false
}

function AF-Control([string]$Id, [scriptblock]$Check, [scriptblock]$Fix) {
    try { $r = & $Check } catch { AF-Emit $Id 'failed' $false '' '' ('check failed: ' + $_.Exception.Message); return }
    $before = $r.Value
    switch ($r.Code) {
        0 { AF-Emit $Id 'pass' $false $before $before $r.Detail; return }
        2 { AF-Emit $Id 'not_applicable' $false $before $before $r.Detail; return }
        3 { AF-Emit $Id 'applies_at_boot' $false $before $before $r.Detail; return }
    }
    if ($AF_MODE -ne 'enforce') { AF-Emit $Id 'failed' $false $before $before $(if ($r.Detail) { $r.Detail } else { 'not compliant' }); return }
    if ($null -eq $Fix) { AF-Emit $Id 'failed' $false $before $before 'not compliant; no automatic fix'; return }
    try { & $Fix | Out-Null } catch { AF-Emit $Id 'failed' $true $before $before ('fix failed: ' + $_.Exception.Message); return }
    try { $r2 = & $Check } catch { AF-Emit $Id 'failed' $true $before '' ('re-check failed: ' + $_.Exception.Message); return }
    switch ($r2.Code) {
        0 { AF-Emit $Id 'fixed' $true $before $r2.Value '' }
        3 { AF-Emit $Id 'applies_at_boot' $true $before $r2.Value ('fixed; ' + $r2.Detail) }
        2 { AF-Emit $Id 'not_applicable' $true $before $r2.Value $r2.Detail }
        default { AF-Emit $Id 'failed' $true $before $r2.Value ('still not compliant after the fix ' + $r2.Detail) }
    }
}

# --- registry ---------------------------------------------------------------------------------
function AF-RegCheck([string]$Path, [string]$Name, [string]$Type, [string]$Want) {
    $p = Get-ItemProperty -LiteralPath $Path -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $p) { return AF-Result 1 'unset' "$Path\$Name is not set" }
    $v = [string]$p.$Name
    if ($Type -eq 'multi_string') { $v = (@($p.$Name) -join '|') }
    if ($v -ieq $Want) { return AF-Result 0 $v '' }
    return AF-Result 1 $v ''
}

function AF-RegFix([string]$Path, [string]$Name, [string]$Type, [string]$Want) {
    if (-not (Test-Path -LiteralPath $Path)) { New-Item -Path $Path -Force | Out-Null }
    $kind = @{ dword = 'DWord'; qword = 'QWord'; string = 'String'; multi_string = 'MultiString' }[$Type]
    $value = $Want
    if ($Type -eq 'dword') { $value = [int]$Want }
    if ($Type -eq 'qword') { $value = [long]$Want }
    if ($Type -eq 'multi_string') { $value = [string[]]($Want -split '\|') }
    New-ItemProperty -LiteralPath $Path -Name $Name -PropertyType $kind -Value $value -Force | Out-Null
}

# --- advanced audit policy (auditpol; English subcategory names) --------------------------------
function AF-AuditCheck([string]$Subcategory, [string]$Want) {
    $csv = auditpol.exe /get /subcategory:"$Subcategory" /r 2>$null
    if ($LASTEXITCODE -ne 0) { return AF-Result 2 '' "auditpol does not know subcategory $Subcategory" }
    $row = $csv | Where-Object { $_ } | ConvertFrom-Csv | Select-Object -First 1
    $have = [string]$row.'Inclusion Setting'
    if ($have -ieq $Want) { return AF-Result 0 $have '' }
    return AF-Result 1 $have ''
}

function AF-AuditFix([string]$Subcategory, [string]$Want) {
    $s = if ($Want -match 'Success') { 'enable' } else { 'disable' }
    $f = if ($Want -match 'Failure') { 'enable' } else { 'disable' }
    auditpol.exe /set /subcategory:"$Subcategory" /success:$s /failure:$f | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "auditpol /set failed ($LASTEXITCODE)" }
}

# --- services -------------------------------------------------------------------------------
function AF-ServiceCheck([string]$Name, [string]$Want) {
    $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='$Name'" -ErrorAction SilentlyContinue
    if ($null -eq $svc) { return AF-Result 2 'not-installed' "$Name is not installed" }
    $have = @{ Auto = 'Automatic'; Manual = 'Manual'; Disabled = 'Disabled'; Boot = 'Automatic'; System = 'Automatic' }[[string]$svc.StartMode]
    if ($have -ieq $Want) { return AF-Result 0 $have '' }
    return AF-Result 1 $have ''
}

function AF-ServiceFix([string]$Name, [string]$Want) {
    Set-Service -Name $Name -StartupType $Want
    if ($Want -eq 'Disabled') { Stop-Service -Name $Name -Force -ErrorAction SilentlyContinue }
}

# --- Windows Server features and optional features -----------------------------------------------
function AF-FeatureCheck([string]$Name, [bool]$Present) {
    if (-not (Get-Command Get-WindowsFeature -ErrorAction SilentlyContinue)) { return AF-Result 2 '' 'Server Manager cmdlets not available (not Windows Server)' }
    $f = Get-WindowsFeature -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $f) { return AF-Result 2 '' "feature $Name does not exist here" }
    $have = if ($f.Installed) { 'installed' } else { 'absent' }
    if ($f.Installed -eq $Present) { return AF-Result 0 $have '' }
    return AF-Result 1 $have ''
}

function AF-FeatureFix([string]$Name, [bool]$Present) {
    if ($Present) { $r = Install-WindowsFeature -Name $Name } else { $r = Uninstall-WindowsFeature -Name $Name }
    if (-not $r.Success) { throw "feature $Name could not be changed" }
}

function AF-OptionalCheck([string]$Name, [bool]$Enabled) {
    $f = Get-WindowsOptionalFeature -Online -FeatureName $Name -ErrorAction SilentlyContinue
    if ($null -eq $f) { return AF-Result 2 '' "optional feature $Name does not exist here" }
    $have = [string]$f.State
    $on = $have -eq 'Enabled' -or $have -eq 'EnablePending'
    if ($on -eq $Enabled) {
        if ($have -like '*Pending') { return AF-Result 3 $have 'takes effect after the restart before capture' }
        return AF-Result 0 $have ''
    }
    return AF-Result 1 $have ''
}

function AF-OptionalFix([string]$Name, [bool]$Enabled) {
    if ($Enabled) { Enable-WindowsOptionalFeature -Online -FeatureName $Name -NoRestart | Out-Null }
    else { Disable-WindowsOptionalFeature -Online -FeatureName $Name -NoRestart | Out-Null }
}

# --- local security policy (secedit [System Access]) ----------------------------------------------
function AF-SecPolRead([string]$Key) {
    $cfg = Join-Path $env:TEMP ('amiforge-secpol-' + [guid]::NewGuid() + '.inf')
    secedit.exe /export /cfg $cfg /areas SECURITYPOLICY /quiet | Out-Null
    try {
        foreach ($line in Get-Content -LiteralPath $cfg) {
            if ($line -match ('^\s*' + [regex]::Escape($Key) + '\s*=\s*(.*?)\s*$')) { return $Matches[1] }
        }
        return ''
    } finally { Remove-Item -LiteralPath $cfg -Force -ErrorAction SilentlyContinue }
}

function AF-SecPolCheck([string]$Key, [string]$Want, [string]$Op) {
    $have = AF-SecPolRead $Key
    if (AF-Compare $have $Want $Op) { return AF-Result 0 $have '' }
    return AF-Result 1 $have ''
}

function AF-SecPolFix([string]$Key, [string]$Value) {
    $inf = Join-Path $env:TEMP ('amiforge-secpol-' + [guid]::NewGuid() + '.inf')
    $db = Join-Path $env:TEMP ('amiforge-secpol-' + [guid]::NewGuid() + '.sdb')
    $text = "[Unicode]`r`nUnicode=yes`r`n[Version]`r`nsignature=`"`$CHICAGO`$`"`r`nRevision=1`r`n[System Access]`r`n$Key = $Value`r`n"
    Set-Content -LiteralPath $inf -Value $text -Encoding Unicode
    try {
        secedit.exe /configure /db $db /cfg $inf /areas SECURITYPOLICY /quiet | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "secedit /configure failed ($LASTEXITCODE)" }
    } finally { Remove-Item -LiteralPath $inf, $db -Force -ErrorAction SilentlyContinue }
}

# --- facts, inventory, evidence ------------------------------------------------------------------
function AF-Facts {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $f = [ordered]@{ os_id = 'windows'; os_like = ''; os_version = [string]$os.Version; kernel = [string]$os.BuildNumber;
        arch = [string]$env:PROCESSOR_ARCHITECTURE; init = 'windows'; proc_sys = 'rw' }
    [Console]::Out.WriteLine('AMIFORGE-FACTS ' + ($f | ConvertTo-Json -Compress))
}

function AF-Inventory {
    $keys = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
    foreach ($p in Get-ItemProperty -Path $keys -ErrorAction SilentlyContinue) {
        $name = [string]$p.DisplayName
        if (-not $name) { continue }
        $line = 'AMIFORGE-PKG windows' + "`t" + ($name -replace '\s', ' ') + "`t" + ([string]$p.DisplayVersion -replace '\s', ' ') + "`t" + [string]$env:PROCESSOR_ARCHITECTURE
        [Console]::Out.WriteLine($line)
    }
    foreach ($kb in Get-HotFix -ErrorAction SilentlyContinue) {
        [Console]::Out.WriteLine('AMIFORGE-PKG windows-kb' + "`t" + [string]$kb.HotFixID + "`t" + [string]$kb.HotFixID + "`t" + [string]$env:PROCESSOR_ARCHITECTURE)
    }
}

# Waits for the evidence file the plugin uploads while this script runs (one upload: a JSON
# document ending with "complete": true, so a partly written file is never taken), then installs
# the report and SBOM it carries (base64, so the bytes are exactly the plugin's) under
# ProgramData\@WINDOWS_EVIDENCE_DIR@.
function AF-Evidence([string]$Path, [int]$TimeoutSeconds) {
    [Console]::Out.WriteLine('AMIFORGE-AWAIT-EVIDENCE ' + $Path)
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    $e = $null
    while ($true) {
        if (Test-Path -LiteralPath $Path) {
            try { $e = Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json } catch { $e = $null }
            if ($null -ne $e -and $e.complete -eq $true) { break }
        }
        if ((Get-Date) -gt $deadline) { throw 'no evidence received in time; ProgramData\@WINDOWS_EVIDENCE_DIR@ left unchanged' }
        Start-Sleep -Milliseconds 200
    }
    $dir = Join-Path $env:ProgramData '@WINDOWS_EVIDENCE_DIR@'
    New-Item -ItemType Directory -Path $dir -Force | Out-Null
    foreach ($n in '@REPORT_FILE@', '@SBOM_FILE@') {
        [IO.File]::WriteAllBytes((Join-Path $dir $n), [Convert]::FromBase64String([string]$e.$n))
    }
    Remove-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
}
