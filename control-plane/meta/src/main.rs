use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = objectio_meta::Config::parse();
    if cfg.print_openapi {
        print!("{}", objectio_meta::openapi_json());
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    if cfg.check_config {
        cfg.check()?;
        println!("configuration OK");
        return Ok(());
    }
    objectio_meta::run(cfg).await
}
