//! Test fixtures of the answer-file modules: settings that use every option and an agent's own
//! answer file to merge into.

use super::{AnswerSettings, Arch, ComputerName};

/// Settings that use every option (values with characters XML must escape).
pub fn full() -> AnswerSettings {
    AnswerSettings {
        arch: Arch::Amd64,
        computer_name: ComputerName::Random,
        time_zone: Some("W. Europe Standard Time".into()),
        locale: Some("de-DE".into()),
        copy_profile: true,
        run_synchronous: vec![
            "cmd /c echo a & echo <b>".into(),
            "powershell -Command \"Set-Content x 'y'\"".into(),
        ],
        first_logon_commands: vec!["cmd /c whoami > C:\\first.txt".into()],
    }
}

/// An agent-style answer file, written for these tests: a component we do not model,
/// a RunSynchronous list, a fixed name, OOBE settings and an element with wcm:keyValue.
pub const AGENT_FILE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <!-- written by the agent -->
  <settings pass="generalize">
    <component name="Microsoft-Windows-Security-SPP" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <SkipRearm>1</SkipRearm>
    </component>
  </settings>
  <settings pass="specialize">
    <component name="Microsoft-Windows-Deployment" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <RunSynchronous>
        <RunSynchronousCommand wcm:action="add">
          <Order>1</Order>
          <Path>agent-step.cmd</Path>
        </RunSynchronousCommand>
      </RunSynchronous>
    </component>
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <ComputerName>AGENTNAME</ComputerName>
      <RegisteredOwner>Amazon</RegisteredOwner>
    </component>
    <component name="Microsoft-Windows-TCPIP" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <Interfaces>
        <Interface wcm:action="add">
          <Identifier>Ethernet</Identifier>
          <Routes>
            <Route wcm:action="add" wcm:keyValue="1">
              <Identifier>1</Identifier>
            </Route>
          </Routes>
        </Interface>
      </Interfaces>
    </component>
  </settings>
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <OOBE>
        <HideEULAPage>false</HideEULAPage>
        <HideLocalAccountScreen>true</HideLocalAccountScreen>
      </OOBE>
    </component>
  </settings>
</unattend>
"#;
