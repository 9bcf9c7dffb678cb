use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = objectio_meta::Config::parse();
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
