//! The shipped TOML templates parse, through the daemons' own settings
//! types, to exactly the defaults.

fn same_as_defaults<T: clap::Parser + PartialEq + std::fmt::Debug>(
    bin: &str,
    template: &str,
    required: &[&str],
    clear_file: impl Fn(&mut T),
) {
    let path = format!(
        "{}/../../packaging/etc/objectio/{template}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut from_file: T =
        objectio_cluster::args::parse_from(vec![bin.into(), "--config".into(), path.into()])
            .unwrap();
    clear_file(&mut from_file);
    let mut args: Vec<std::ffi::OsString> = vec![bin.into()];
    args.extend(required.iter().map(Into::into));
    let defaults: T = objectio_cluster::args::parse_from(args).unwrap();
    assert_eq!(from_file, defaults, "{template}");
}

#[test]
fn test_shipped_config_templates_parse_to_the_defaults() {
    same_as_defaults::<objectio_meta::Config>("objectio-meta", "meta.toml", &[], |c| {
        c.file.config = None
    });
    same_as_defaults::<objectio_gateway::Config>("objectio-gateway", "gateway.toml", &[], |c| {
        c.file.config = None
    });
    same_as_defaults::<objectio_osd::Config>(
        "objectio-osd",
        "osd.toml",
        &["--id", "osd1", "--disk", "/var/lib/objectio/osd1.img"],
        |c| c.file.config = None,
    );
}
