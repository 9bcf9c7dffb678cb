#[tokio::main]
async fn main() -> std::process::ExitCode {
    objectio_cluster::args::exit_code(run().await)
}

async fn run() -> anyhow::Result<()> {
    let cfg: objectio_meta::Config = objectio_cluster::args::parse();
    if cfg.print_openapi {
        print!("{}", objectio_meta::openapi_json());
        return Ok(());
    }
    objectio_cluster::args::init_tracing();
    if cfg.check_config {
        cfg.check()?;
        println!("configuration OK");
        return Ok(());
    }
    objectio_meta::run(cfg).await
}
