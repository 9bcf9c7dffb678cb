#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Err(e) if e.downcast_ref::<objectio_osd::Removed>().is_some() => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(objectio_osd::Removed::EXIT_STATUS)
        }
        r => objectio_cluster::args::exit_code(r),
    }
}

async fn run() -> anyhow::Result<()> {
    objectio_cluster::args::init_tracing();
    let cfg: objectio_osd::Config = objectio_cluster::args::parse();
    if cfg.check_config {
        cfg.check()?;
        println!("configuration OK");
        return Ok(());
    }
    objectio_osd::run(cfg).await
}
