//! The outgoing HTTP client does not reuse a connection idle for longer
//! than servers commonly keep one (backend::http::POOL_IDLE): a server that
//! drops an idle connection just as a request arrives on it fails that
//! request, and a login's token exchange cannot be sent twice.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    time::Duration,
};

/// Answers the first request of each connection; a second request on the
/// same connection finds it closed, as a server that timed the connection
/// out at that moment would.
fn serve_once_per_connection(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut stream: TcpStream = stream;
            if read_request(&mut stream) {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            }
            // The next request on this connection: read it, answer nothing, close.
            read_request(&mut stream);
        });
    }
}

/// Reads up to the end of a request's headers; false if the peer closed.
fn read_request(stream: &mut TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    true
}

#[tokio::test]
async fn a_connection_idle_past_the_servers_keep_alive_is_not_reused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || serve_once_per_connection(listener));
    let client = backend::http::client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "ok");
    tokio::time::sleep(backend::http::POOL_IDLE + Duration::from_millis(500)).await;
    let second = client
        .get(&url)
        .send()
        .await
        .expect("a fresh connection, not the idle one");
    assert_eq!(second.text().await.unwrap(), "ok");
}
