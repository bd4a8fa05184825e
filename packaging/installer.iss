; iiq-kiosk: the Windows installer (Inno Setup 6.3 or later).
;
; Build the one-folder bundle first (python packaging\build.py -> packaging\dist\iiq-kiosk\),
; then, from the repository root:
;
;   ISCC /DAppVersion=0.1.0 packaging\installer.iss
;
; which writes packaging\dist\iiq-kiosk-0.1.0-setup.exe. Defines (all optional):
;   /DAppVersion=1.2.3      the version shown in Apps and in the file name; default: the
;                           version resource of dist\iiq-kiosk\iiq-kiosk.exe (from pyproject)
;   /DFileVersion=1.2.3.0   the setup's own numeric version resource; default: the same
;   /DBundleDir=PATH        the one-folder bundle; default: packaging\dist\iiq-kiosk
;   /DSigner=NAME           sign the kiosk .exe, the setup and the uninstaller with the Sign
;                           Tool NAME (see "Signing" below)
;
; What it does (packaging/README.md and README.md "Deploying on Windows" say the same):
; - installs per machine, for every user, into Program Files ({autopf}\iiq-kiosk); needs an
;   administrator (or SYSTEM, as Intune and GPO run it);
; - a Start-menu entry, and one for the demo in a window;
; - optional task "Start the kiosk at sign-in": a shortcut in the All Users Startup folder
;   ({commonstartup}). The installer runs elevated, as an administrator or as SYSTEM, so it
;   cannot know which account is the kiosk's: {userstartup} would be the installer's own
;   profile. The common folder starts the kiosk for whoever signs in, which on a dedicated
;   kiosk PC is the kiosk account (anyone else closes it with Alt+F4). To start it for one
;   account only, leave the task off and put a shortcut in that account's shell:startup.
; - creates the machine-wide config folder C:\ProgramData\iiq-kiosk ({commonappdata}), the
;   one the kiosk reads (platformdirs.site_config_path("iiq-kiosk", appauthor=False)),
;   writable by administrators only, and installs config.example.toml there. It never
;   writes config.toml, except from /CONFIG=PATH when there is none yet (see below);
; - upgrades in place: the AppId below never changes, so a newer setup replaces the old
;   files in the same folder and keeps the chosen task. A running kiosk started from this
;   folder is stopped first (its journal is built to survive that: nothing confirmed is lost,
;   unsent changes are sent at the next start);
; - uninstall removes the program and the shortcuts and keeps C:\ProgramData\iiq-kiosk\config.toml
;   and every user's journal and logs (%LOCALAPPDATA%\iiq-kiosk, which the uninstaller does not
;   touch), unless asked to purge: an interactive uninstall asks (default No); a silent one
;   purges only with /PURGE:
;     "C:\Program Files\iiq-kiosk\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /PURGE
;   Purge deletes C:\ProgramData\iiq-kiosk and each local profile's AppData\Local\iiq-kiosk
;   (changes still waiting to be sent there are lost); a data_dir / IIQ_KIOSK_DATA elsewhere
;   is left alone.
;
; Silent install (Intune Win32 app, GPO startup script, SCCM):
;   iiq-kiosk-1.2.3-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART [/TASKS="startup"]
;                             [/CONFIG="\\server\share\iiq-kiosk\config.toml"] [/LOG="C:\Windows\Temp\iiq-kiosk-setup.log"]
; /TASKS="startup" adds the sign-in shortcut (a silent install without /TASKS uses the tasks
; of the previous install, none on a first one). Exit code 0 is success.
;
; Signing (optional; nothing here requires it). With the district's own code-signing
; certificate and signtool.exe from the Windows SDK, define a Sign Tool on the ISCC command
; line (cmd.exe; in PowerShell write `$ for $) and name it with /DSigner:
;   ISCC "/Sdistrict=signtool.exe sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 /f $qC:\certs\district.pfx$q /p PASSWORD $f" /DSigner=district /DAppVersion=1.2.3 packaging\installer.iss
; ($f is the file to sign, $q a quote; a certificate in the store: /n $qDistrict Name$q
; instead of /f and /p; any RFC 3161 timestamp server works). ISCC then signs
; iiq-kiosk.exe as it packs it, the uninstaller and the setup itself (SignTool=,
; SignedUninstaller=). Unsigned, SmartScreen may warn when the setup is started by hand;
; Intune and GPO installs do not show that.

#if Ver < EncodeVer(6, 3, 0)
  #error Inno Setup 6.3 or later is needed (for x64compatible)
#endif

#define AppName "iiq-kiosk"
#define ExeName "iiq-kiosk.exe"

#ifndef BundleDir
  #define BundleDir AddBackslash(SourcePath) + "dist\iiq-kiosk"
#endif
#define ExePath BundleDir + "\" + ExeName
#if !FileExists(ExePath)
  #error The bundle is missing: build it first with python packaging\build.py (or pass /DBundleDir=...)
#endif

#ifndef AppVersion
  #define AppVersion GetVersionNumbersString(ExePath)
#endif
#ifndef FileVersion
  #define FileVersion GetVersionNumbersString(ExePath)
#endif

[Setup]
; Never change AppId: it is how a newer setup finds (and upgrades) an installed kiosk.
AppId={{8A6F4DAB-9C20-4D50-8487-1AFD0D1A0811}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=iiq-kiosk developers
AppComments=Incident IQ check-in/check-out kiosk
VersionInfoVersion={#FileVersion}
VersionInfoDescription={#AppName} setup
VersionInfoProductName={#AppName}
VersionInfoProductTextVersion={#AppVersion}
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; PySide6 6.x needs Windows 10 or later.
MinVersion=10.0
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UninstallDisplayName={#AppName}
UninstallDisplayIcon={app}\{#ExeName}
OutputDir=dist
OutputBaseFilename={#AppName}-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; The kiosk is stopped by [Code] below before files are replaced; Restart Manager is the
; fallback for anything else holding a file. The kiosk is started again at the next sign-in.
CloseApplications=yes
RestartApplications=no
; A log in %TEMP% (or /LOG="file"): what a silent install did.
SetupLogging=yes
#ifdef Signer
SignTool={#Signer}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "startup"; Description: "Start the kiosk at sign-in (every user of this PC: for a dedicated kiosk account)"; GroupDescription: "Start-up:"; Flags: unchecked

[Dirs]
; The machine-wide config folder. ProgramData lets every user add files to its subfolders,
; so [Code] (LockConfigFolder) replaces the inherited permissions: administrators and SYSTEM
; write, users only read (nobody but an administrator can plant a config.toml there).
; Removed at uninstall only when empty (config.toml keeps it).
Name: "{commonappdata}\{#AppName}"

[InstallDelete]
; An upgrade starts from a clean bundle: files a previous version had and this one has not
; (PyInstaller 6 puts everything but the .exe in _internal) must not linger.
Type: filesandordirs; Name: "{app}\_internal"
; The start-up task unticked on an upgrade: its shortcut from the previous install goes.
Type: files; Name: "{commonstartup}\{#AppName}.lnk"; Tasks: not startup

[Files]
#ifdef Signer
Source: "{#ExePath}"; DestDir: "{app}"; Flags: ignoreversion signonce
Source: "{#BundleDir}\*"; Excludes: "\{#ExeName}"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#else
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#endif
; The example is the program's: replaced on every upgrade, removed at uninstall.
Source: "config.example.toml"; DestDir: "{commonappdata}\{#AppName}"; Flags: ignoreversion
; /CONFIG=PATH: the district's config.toml, copied only when there is none yet (an existing
; one is never overwritten) and kept at uninstall.
Source: "{param:CONFIG}"; DestDir: "{commonappdata}\{#AppName}"; DestName: "config.toml"; Flags: external onlyifdoesntexist uninsneveruninstall; Check: ConfigGiven

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#ExeName}"; WorkingDir: "{app}"; Comment: "The check-in/check-out kiosk"
Name: "{group}\{#AppName} demo (in a window)"; Filename: "{app}\{#ExeName}"; Parameters: "--demo --windowed"; WorkingDir: "{app}"; Comment: "The kiosk on its built-in simulator"
Name: "{commonstartup}\{#AppName}"; Filename: "{app}\{#ExeName}"; WorkingDir: "{app}"; Tasks: startup

[Run]
Filename: "{app}\{#ExeName}"; Parameters: "--demo --windowed"; Description: "Try the kiosk now (demo, in a window)"; Flags: postinstall nowait skipifsilent unchecked runasoriginaluser

[UninstallDelete]
; Only what the program folder may hold besides the installed files; never user data.
Type: filesandordirs; Name: "{app}\_internal"
Type: dirifempty; Name: "{app}"

[Code]
var
  Purge: Boolean;

function HasParam(const Name: String): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount do
    if (CompareText(ParamStr(I), Name) = 0) or (CompareText(ParamStr(I), Name + '=yes') = 0) then
    begin
      Result := True;
      Exit;
    end;
end;

function ConfigGiven: Boolean;
begin
  Result := ExpandConstant('{param:CONFIG|}') <> '';
end;

function InitializeSetup: Boolean;
var
  Path: String;
begin
  Result := True;
  Path := ExpandConstant('{param:CONFIG|}');
  if (Path <> '') and not FileExists(Path) then
  begin
    Log('/CONFIG file not found: ' + Path);
    SuppressibleMsgBox('The config file given with /CONFIG was not found:' + #13#10 + Path,
      mbCriticalError, MB_OK, IDOK);
    Result := False;
  end;
end;

{ Stop every iiq-kiosk.exe started from this installation's folder, in any session (an
  administrator may; another copy elsewhere, e.g. a developer's venv, is left alone).
  Win32_Process gives the path whatever the bitness of the caller. }
procedure StopKiosk;
var
  Command: String;
  Code: Integer;
begin
  Command := '-NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "' +
    'Get-CimInstance Win32_Process | Where-Object { $_.Name -eq ''{#ExeName}'' -and ' +
    '$_.ExecutablePath -like ''' + ExpandConstant('{app}') + '\*'' } | ' +
    'ForEach-Object { Stop-Process -Id $_.ProcessId -Force -ErrorAction SilentlyContinue }; ' +
    'Start-Sleep -Milliseconds 500"';
  if Exec(ExpandConstant('{sys}\WindowsPowerShell\v1.0\powershell.exe'), Command, '',
      SW_HIDE, ewWaitUntilTerminated, Code) then
    Log(Format('stopping a running kiosk: powershell exited with %d', [Code]))
  else
    Log('stopping a running kiosk: powershell could not be started');
end;

procedure LockConfigFolder;
var
  Code: Integer;
begin
  { Administrators (S-1-5-32-544) and SYSTEM (S-1-5-18) full control, Users (S-1-5-32-545)
    read; SIDs, so it works in any Windows language. }
  if Exec(ExpandConstant('{sys}\icacls.exe'),
      '"' + ExpandConstant('{commonappdata}\{#AppName}') + '" /inheritance:r ' +
      '/grant:r *S-1-5-32-544:(OI)(CI)F *S-1-5-18:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX',
      '', SW_HIDE, ewWaitUntilTerminated, Code) then
    Log(Format('config folder permissions: icacls exited with %d', [Code]))
  else
    Log('config folder permissions: icacls could not be started');
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if CurStep = ssPostInstall then
    LockConfigFolder;
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
begin
  // The install folder is known here; on a first install nothing runs from it.
  if DirExists(ExpandConstant('{app}')) then
    StopKiosk;
  Result := '';
end;

{ Every local profile's AppData\Local\iiq-kiosk (the kiosk's default data folder). }
procedure PurgeUserData;
var
  Profiles: TArrayOfString;
  I: Integer;
  Key, Folder: String;
begin
  Key := 'SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList';
  if not RegGetSubkeyNames(HKLM, Key, Profiles) then
    Exit;
  for I := 0 to GetArrayLength(Profiles) - 1 do
    if RegQueryStringValue(HKLM, Key + '\' + Profiles[I], 'ProfileImagePath', Folder) then
    begin
      StringChangeEx(Folder, '%SystemDrive%', GetEnv('SystemDrive'), True);
      Folder := AddBackslash(Folder) + 'AppData\Local\{#AppName}';
      if DirExists(Folder) then
      begin
        Log('purge: deleting ' + Folder);
        DelTree(Folder, True, True, True);
      end;
    end;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usUninstall then
  begin
    if HasParam('/PURGE') then
      Purge := True
    else if not UninstallSilent then
      Purge := SuppressibleMsgBox(
        'Also delete the kiosk''s data?' + #13#10 + #13#10 +
        'Yes deletes C:\ProgramData\{#AppName} (config.toml) and, for every user of this PC, ' +
        'the journal and logs in %LOCALAPPDATA%\{#AppName}. Changes not yet sent to ' +
        'Incident IQ are lost.' + #13#10 + #13#10 +
        'No (recommended) keeps them for a reinstall or an audit.',
        mbConfirmation, MB_YESNO or MB_DEFBUTTON2, IDNO) = IDYES;
    StopKiosk;
  end
  else if (CurUninstallStep = usPostUninstall) and Purge then
  begin
    Log('purge: deleting ' + ExpandConstant('{commonappdata}\{#AppName}'));
    DelTree(ExpandConstant('{commonappdata}\{#AppName}'), True, True, True);
    PurgeUserData;
  end;
end;
