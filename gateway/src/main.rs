#[tokio::main]
async fn main() -> std::process::ExitCode {
    objectio_cluster::args::exit_code(run().await)
}

async fn run() -> anyhow::Result<()> {
    objectio_cluster::args::init_tracing_with(objectio_gateway::DEFAULT_LOG_FILTER);
    let cfg: objectio_gateway::Config = objectio_cluster::args::parse();
    if cfg.check_config {
        cfg.check()?;
        println!("configuration OK");
        return Ok(());
    }
    objectio_gateway::run(cfg).await
}
