use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    objectio_cluster::args::init_tracing();
    let cfg = objectio_osd::Config::parse();
    if cfg.check_config {
        cfg.check()?;
        println!("configuration OK");
        return Ok(());
    }
    objectio_osd::run(cfg).await
}
