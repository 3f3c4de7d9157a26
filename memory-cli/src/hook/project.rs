//! The project a session works in, found cheaply: the git root above the working directory names it, and the
//! manifests at that root say the language and, where a dependency names one, the framework.

use std::path::Path;

use super::state::Project;

/// Manifests read, at most this much of each.
const MANIFEST_BYTES: u64 = 64 * 1024;

/// The project of a session whose working directory is `cwd`.
pub fn detect(cwd: &Path) -> Project {
    let import_key = memory_core::sessions::last_component(&cwd.to_string_lossy())
        .unwrap_or_else(|| "unknown".into());
    let root = cwd
        .ancestors()
        .take(64)
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(cwd);
    let name = memory_core::sessions::last_component(&root.to_string_lossy())
        .unwrap_or_else(|| import_key.clone());
    let (language, framework) = stack(root);
    Project {
        name,
        import_key,
        language: language.map(str::to_string),
        framework: framework.map(str::to_string),
    }
}

/// The language and framework the manifests at `root` declare.
fn stack(root: &Path) -> (Option<&'static str>, Option<&'static str>) {
    /// A manifest file, the language it means, and the frameworks its dependencies name (needle, name).
    type Manifest = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    const MANIFESTS: &[Manifest] = &[
        (
            "Cargo.toml",
            "rust",
            &[
                ("axum", "axum"),
                ("actix-web", "actix-web"),
                ("rocket", "rocket"),
                ("bevy", "bevy"),
                ("tauri", "tauri"),
                ("tokio", "tokio"),
            ],
        ),
        (
            "package.json",
            "javascript",
            &[
                ("\"next\"", "next.js"),
                ("\"@nestjs/core\"", "nestjs"),
                ("\"react\"", "react"),
                ("\"vue\"", "vue"),
                ("\"svelte\"", "svelte"),
                ("\"@angular/core\"", "angular"),
                ("\"express\"", "express"),
            ],
        ),
        (
            "pyproject.toml",
            "python",
            &[
                ("django", "django"),
                ("fastapi", "fastapi"),
                ("flask", "flask"),
            ],
        ),
        (
            "requirements.txt",
            "python",
            &[
                ("django", "django"),
                ("fastapi", "fastapi"),
                ("flask", "flask"),
            ],
        ),
        (
            "go.mod",
            "go",
            &[("gin-gonic", "gin"), ("labstack/echo", "echo")],
        ),
        ("pom.xml", "java", &[("spring-boot", "spring")]),
        ("build.gradle", "java", &[("spring-boot", "spring")]),
        ("Gemfile", "ruby", &[("rails", "rails")]),
    ];
    for (file, language, frameworks) in MANIFESTS {
        let Some(text) = read_head(&root.join(file)) else {
            continue;
        };
        let language = if *file == "package.json" && root.join("tsconfig.json").exists() {
            "typescript"
        } else {
            language
        };
        let framework = frameworks
            .iter()
            .find(|(needle, _)| text.contains(needle))
            .map(|(_, name)| *name);
        return (Some(language), framework);
    }
    (None, None)
}

fn read_head(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MANIFEST_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}
