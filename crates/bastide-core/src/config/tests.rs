use std::net::SocketAddr;

use figment::Jail;

use super::*;

/// Runs `test` with a private working folder and environment. (figment's `Jail`
/// wants closures returning its large error type; this keeps tests plain.)
#[allow(clippy::result_large_err)]
fn in_jail(test: impl FnOnce(&mut Jail)) {
    Jail::expect_with(|jail| {
        test(jail);
        Ok(())
    });
}

fn load_in(jail: &Jail, flags: Flags) -> Result<Settings> {
    let data_dir = jail.directory().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    Settings::load(&Sources {
        file: None,
        flags: Flags {
            data_dir: Some(data_dir),
            ..flags
        },
    })
}

fn write_config(jail: &Jail, text: &str) {
    std::fs::create_dir_all(jail.directory().join("data")).unwrap();
    jail.create_file(format!("data/{CONFIG_FILE_NAME}"), text)
        .unwrap();
}

#[test]
fn defaults_put_everything_under_the_data_folder() {
    in_jail(|jail| {
        let settings = load_in(jail, Flags::default()).unwrap();
        let dir = jail.directory().join("data");
        assert_eq!(
            settings.server.listen,
            DEFAULT_LISTEN.parse::<SocketAddr>().unwrap()
        );
        assert_eq!(settings.keys.keyring, dir.join("keyring.sealed"));
        assert_eq!(
            settings.storage_url.to_file_path().unwrap(),
            dir.join("objects")
        );
        assert!(
            settings
                .metadata
                .url
                .expose_secret()
                .starts_with("sqlite://")
        );
        assert_eq!(settings.log.format, LogFormat::Json);
    });
}

#[test]
fn each_layer_overrides_the_one_before() {
    in_jail(|jail| {
        write_config(
            jail,
            "[server]\nlisten = \"127.0.0.1:1000\"\nrequest_timeout_secs = 5\n\
                            shutdown_grace_secs = 7\n",
        );
        jail.set_env("BASTIDE_SERVER__LISTEN", "127.0.0.1:2000");
        jail.set_env("BASTIDE_SERVER__REQUEST_TIMEOUT_SECS", "9");
        let settings = load_in(jail, Flags::default()).unwrap();
        assert_eq!(
            settings.server.listen.port(),
            2000,
            "environment beats the file"
        );
        assert_eq!(settings.server.request_timeout.as_secs(), 9);
        assert_eq!(
            settings.server.shutdown_grace.as_secs(),
            7,
            "the file beats defaults"
        );

        let flags = Flags {
            listen: Some("127.0.0.1:3000".parse().unwrap()),
            ..Flags::default()
        };
        let settings = load_in(jail, flags).unwrap();
        assert_eq!(
            settings.server.listen.port(),
            3000,
            "flags beat the environment"
        );
    });
}

#[test]
fn invalid_toml_is_reported_with_its_line_and_column() {
    in_jail(|jail| {
        write_config(jail, "[server]\nlisten = \"127.0.0.1:1000\n");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("column"), "{err}");
    });
}

#[test]
fn an_unknown_key_in_the_file_is_named_with_the_file() {
    in_jail(|jail| {
        write_config(jail, "[server]\nlisen = \"127.0.0.1:1000\"\n");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("unknown key `server.lisen`"), "{err}");
        assert!(err.contains(CONFIG_FILE_NAME), "{err}");
        assert!(
            err.contains("listen"),
            "the message lists the valid keys: {err}"
        );
    });
}

#[test]
fn an_unknown_bastide_variable_is_named() {
    in_jail(|jail| {
        jail.set_env("BASTIDE_SERVER__LISEN", "x");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(
            err.contains("unknown variable BASTIDE_SERVER__LISEN"),
            "{err}"
        );
    });
}

#[test]
fn a_value_of_the_wrong_type_names_its_variable() {
    in_jail(|jail| {
        jail.set_env("BASTIDE_METADATA__MAX_CONNECTIONS", "many");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("BASTIDE_METADATA__MAX_CONNECTIONS"), "{err}");
    });
}

#[test]
fn a_numeric_passphrase_from_the_environment_is_taken_as_text() {
    in_jail(|jail| {
        jail.set_env("BASTIDE_KEYRING_PASSPHRASE", "123456");
        let settings = load_in(jail, Flags::default()).unwrap();
        let passphrase = settings.keys.keyring_passphrase.unwrap();
        assert_eq!(passphrase.expose_secret(), "123456");
    });
}

#[test]
fn a_passphrase_file_is_resolved_against_the_data_folder() {
    in_jail(|jail| {
        write_config(jail, "keyring_passphrase_file = \"pass\"\n");
        let path = jail.directory().join("data/pass");
        std::fs::write(&path, "from-file\n").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let settings = load_in(jail, Flags::default()).unwrap();
        assert_eq!(
            settings.keys.keyring_passphrase.unwrap().expose_secret(),
            "from-file"
        );
    });
}

#[test]
fn an_invalid_listen_address_says_how_to_write_one() {
    in_jail(|jail| {
        jail.set_env("BASTIDE_SERVER__LISTEN", "localhost");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("IP:PORT"), "{err}");
    });
}

#[test]
fn a_missing_data_folder_says_which_command_creates_one() {
    in_jail(|_jail| {
        let err = Settings::load(&Sources::default()).unwrap_err().to_string();
        assert!(err.contains("bastide init --data-dir"), "{err}");
    });
}

#[test]
fn a_missing_config_file_named_on_the_command_line_is_an_error() {
    in_jail(|jail| {
        let sources = Sources {
            file: Some(jail.directory().join("nope.toml")),
            ..Sources::default()
        };
        let err = Settings::load(&sources).unwrap_err().to_string();
        assert!(err.contains("nope.toml"), "{err}");
    });
}

#[test]
fn a_database_password_is_masked_for_display() {
    let shown = redact_url("postgres://bastide:s3cret@db.example:5432/meta");
    assert_eq!(shown, "postgres://bastide:***@db.example:5432/meta");
}

#[test]
fn invalid_toml_never_quotes_the_offending_line() {
    in_jail(|jail| {
        write_config(jail, "keyring_passphrase = hunter2-unquoted\n");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    });
}

const EXAMPLE: &str = include_str!("../../../../bastide.example.toml");

/// The example with every option uncommented, secrets left out.
fn example_uncommented() -> String {
    EXAMPLE
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(option)
                if option.contains(" = ")
                    && !option.contains("passphrase")
                    && !option.contains("password")
                    && !option.starts_with("webhook")
                    && !option.starts_with("secret_access_key") =>
            {
                option
            }
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn the_example_configuration_parses_and_its_values_are_the_defaults() {
    in_jail(|jail| {
        let defaults = load_in(jail, Flags::default()).unwrap();
        // `data_dir` and the `url`s show examples rather than defaults.
        let example: String = example_uncommented()
            .lines()
            .filter(|line| {
                !line.starts_with("url")
                    && !line.starts_with("data_dir")
                    && !line.starts_with("issuer")
            })
            .map(|line| format!("{line}\n"))
            .collect();
        write_config(jail, &example);
        let settings = load_in(jail, Flags::default()).unwrap();
        assert_eq!(
            format!("{:?}", settings.server),
            format!("{:?}", defaults.server)
        );
        assert_eq!(format!("{:?}", settings.log), format!("{:?}", defaults.log));
        assert_eq!(settings.keys.keyring, defaults.keys.keyring);
        assert_eq!(settings.keys.provider, defaults.keys.provider);
        assert_eq!(
            settings.metadata.max_connections,
            defaults.metadata.max_connections
        );
        assert_eq!(
            settings.metadata.connect_timeout,
            defaults.metadata.connect_timeout
        );
    });
}

#[test]
fn the_example_configuration_lists_every_option_with_its_variable() {
    let mut keys = Vec::new();
    raw::collect_keys(
        &serde_json::to_value(RawConfig::default()).unwrap(),
        "",
        &mut keys,
    );
    assert!(keys.len() > 10, "{keys:?}");
    for key in keys {
        let leaf = key.rsplit('.').next().unwrap();
        let variable = format!("{ENV_PREFIX}{}", key.to_uppercase().replace('.', "__"));
        assert!(
            EXAMPLE.contains(&format!("# {leaf} = ")),
            "bastide.example.toml lacks {key}"
        );
        assert!(
            EXAMPLE.contains(&variable),
            "bastide.example.toml lacks {variable}"
        );
    }
}

#[test]
fn an_oidc_issuer_without_its_client_settings_names_what_is_missing() {
    in_jail(|jail| {
        write_config(
            jail,
            "[oidc]\nissuer = \"https://login.example.org\"\nclient_id = \"bastide\"\n",
        );
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(
            err.contains("oidc.client_secret") && err.contains("BASTIDE_OIDC__CLIENT_SECRET"),
            "{err}"
        );
        write_config(
            jail,
            "[oidc]\nissuer = \"not a url\"\nclient_id = \"b\"\nclient_secret = \"s\"\nredirect_url = \"https://hub/cb\"\n",
        );
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(
            err.contains("oidc.issuer `not a url` is not a URL"),
            "{err}"
        );
    });
}

#[test]
fn networks_hold_their_addresses_and_no_others() {
    use super::Network;
    let net: Network = "10.20.0.0/16".parse().unwrap();
    assert!(net.contains("10.20.3.4".parse().unwrap()));
    assert!(!net.contains("10.21.0.1".parse().unwrap()));
    assert!(net.contains("::ffff:10.20.0.9".parse().unwrap()));
    let one: Network = "127.0.0.1".parse().unwrap();
    assert!(one.contains("127.0.0.1".parse().unwrap()));
    assert!(!one.contains("127.0.0.2".parse().unwrap()));
    let v6: Network = "fd00::/8".parse().unwrap();
    assert!(v6.contains("fd12::1".parse().unwrap()));
    assert!("10.0.0.0/33".parse::<Network>().is_err());
    assert!("somewhere".parse::<Network>().is_err());
}

#[test]
fn a_wire_endpoint_reachable_from_elsewhere_needs_tls() {
    in_jail(|jail| {
        jail.set_env("BASTIDE_WIRE__LISTEN", "0.0.0.0:5433");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("wire.tls_cert"), "{err}");
        jail.set_env("BASTIDE_WIRE__LISTEN", "127.0.0.1:5433");
        jail.set_env("BASTIDE_WIRE__TRUSTED_NETWORKS", "[\"10.0.0.0/8\"]");
        let wire = load_in(jail, Flags::default()).unwrap().wire.unwrap();
        assert_eq!(wire.listen.port(), 5433);
        assert!(wire.trusted_networks[0].contains("10.1.2.3".parse().unwrap()));
        jail.set_env("BASTIDE_WIRE__TLS_CERT", "cert.pem");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("go together"), "{err}");
    });
}

#[test]
fn trusted_proxies_are_none_by_default_and_come_from_the_file_or_the_environment() {
    in_jail(|jail| {
        let settings = load_in(jail, Flags::default()).unwrap();
        assert!(settings.server.trusted_proxies.is_empty());
        write_config(
            jail,
            "[server]\ntrusted_proxies = [\"10.0.0.5\", \"fd00::/64\"]\n",
        );
        let proxies = load_in(jail, Flags::default())
            .unwrap()
            .server
            .trusted_proxies;
        assert_eq!(proxies.len(), 2);
        assert!(proxies[0].contains("10.0.0.5".parse().unwrap()));
        assert!(!proxies[0].contains("10.0.0.6".parse().unwrap()));
        assert!(proxies[1].contains("fd00::1:2".parse().unwrap()));
        jail.set_env("BASTIDE_SERVER__TRUSTED_PROXIES", "[\"192.0.2.0/24\"]");
        let proxies = load_in(jail, Flags::default())
            .unwrap()
            .server
            .trusted_proxies;
        assert_eq!(proxies.len(), 1);
        assert!(proxies[0].contains("192.0.2.77".parse().unwrap()));
    });
}

#[test]
fn a_trusted_proxy_that_is_not_a_network_names_the_setting_and_its_form() {
    in_jail(|jail| {
        jail.set_env("BASTIDE_SERVER__TRUSTED_PROXIES", "[\"proxy.internal\"]");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(
            err.contains("server.trusted_proxies") && err.contains("`proxy.internal`"),
            "{err}"
        );
        jail.set_env("BASTIDE_SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/40\"]");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("prefix length"), "{err}");
    });
}

#[test]
fn disclosure_rules_default_to_the_usual_thresholds_and_a_dataset_only_tightens_them() {
    in_jail(|jail| {
        let defaults = load_in(jail, Flags::default()).unwrap().disclosure;
        assert_eq!(defaults.hub, bastide_sdc::Rules::default());
        write_config(
            jail,
            "[disclosure]\nmin_persons = 11\n[disclosure.datasets.pmsi]\nmin_persons = 20\nround_to = 5\n[disclosure.datasets.loose]\nmin_persons = 3\n",
        );
        jail.set_env("BASTIDE_DISCLOSURE__P_PERCENT", "0.15");
        let settings = load_in(jail, Flags::default()).unwrap().disclosure;
        assert_eq!(
            (settings.hub.min_persons, settings.hub.p_percent),
            (11, 0.15)
        );
        let pmsi = settings.rules_for(["pmsi"]);
        assert_eq!((pmsi.min_persons, pmsi.round_to), (20, Some(5)));
        assert_eq!(settings.rules_for(["loose"]).min_persons, 11);
        assert_eq!(settings.rules_for(["snds", "pmsi"]).min_persons, 20);
    });
}

#[test]
fn a_disclosure_threshold_out_of_range_or_misspelt_is_refused_naming_it() {
    in_jail(|jail| {
        write_config(jail, "[disclosure]\ndominance_k = 1.5\n");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("dominance_k"), "{err}");
        write_config(jail, "[disclosure.datasets.pmsi]\nmin_person = 20\n");
        let err = load_in(jail, Flags::default()).unwrap_err().to_string();
        assert!(err.contains("min_person"), "{err}");
    });
}
