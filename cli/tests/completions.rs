//! Shell completions, exercised by the shells themselves where installed
//! (bash always is).

use std::process::Command;

fn script(shell: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_objectio-cli"))
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What bash offers for the words typed so far (the last one partial).
fn bash_complete(words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objectio-cli.bash");
    std::fs::write(&file, script("bash")).unwrap();
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prog = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={cword}; _objectio__cli objectio-cli '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words[cword],
        words[cword - 1]
    );
    let out = Command::new("bash").args(["-c", &prog]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_subcommands_and_their_flags() {
    assert_eq!(bash_complete(&["objectio-cli", "buc"]), ["bucket"]);
    assert_eq!(bash_complete(&["objectio-cli", "meta", "ex"]), ["export"]);
    let flags = bash_complete(&["objectio-cli", "bucket", "delete", "photos", "--"]);
    assert!(
        flags.contains(&"--force".to_string()) && flags.contains(&"--yes".to_string()),
        "{flags:?}"
    );
    let flags = bash_complete(&["objectio-cli", "meta", "import", "--"]);
    assert!(flags.contains(&"--input".to_string()), "{flags:?}");
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    for shell in ["zsh", "fish"] {
        let s = script(shell);
        for cmd in ["bucket", "export", "import", "wait-drained", "completions"] {
            assert!(s.contains(cmd), "{shell} completions lack {cmd}");
        }
    }
    // Where the shell is installed, it must parse the script.
    for (shell, check) in [("zsh", "-n"), ("fish", "--no-execute")] {
        if Command::new(shell).arg("--version").output().is_ok() {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("c");
            std::fs::write(&f, script(shell)).unwrap();
            let out = Command::new(shell).arg(check).arg(&f).output().unwrap();
            assert!(
                out.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_naming_the_ones_there_are() {
    let out = Command::new(env!("CARGO_BIN_EXE_objectio-cli"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bash") && err.contains("zsh") && err.contains("fish"),
        "{err}"
    );
}
