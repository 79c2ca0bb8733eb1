//! A TCP proxy on 127.0.0.1 that fails the way networks really fail, for
//! fault tests that must neither stop a shared server nor need root.
//!
//! A stopped server or a killed backend is an honest failure: the client
//! gets a FIN or an RST at once. The faults that hurt are silent: a NAT or
//! a balancer forgets a flow and both ends wait on a connection that looks
//! open. sqlx sets no TCP keepalive, so only the application's own
//! heartbeat can notice. This proxy makes those faults on loopback:
//!
//! - [`Proxy::blackhole`] / [`Proxy::blackhole_all`]: a connection stops
//!   forwarding both ways and both its sockets stay open (no FIN, no RST).
//!   Nothing is read from them any more, as behind a dead route.
//! - [`Proxy::cut_off`]: every current connection is blackholed, and new
//!   ones are accepted but never forwarded (the client's first message
//!   goes nowhere), like a host whose route to the server is gone.
//! - [`Proxy::heal`]: new connections forward again. Blackholed ones stay
//!   dead, as forgotten flows do: the client must notice and replace them
//!   (a flow that resumed would be the easy case).
//!
//! Dropping the proxy closes every socket.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use rocket::tokio::{self, io::AsyncRead, io::AsyncWrite, io::AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A proxy from a port of its own on 127.0.0.1 to one target address.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

/// One accepted connection, as [`Proxy::connections`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The proxy's id for it, for [`Proxy::blackhole`].
    pub id: u64,
    /// The local port of the proxy's connection to the target: what the
    /// server sees as its client's port (PostgreSQL's
    /// `pg_stat_activity.client_port`). `None` if never forwarded.
    pub upstream_port: Option<u16>,
    /// Whether it no longer forwards.
    pub blackholed: bool,
}

struct Shared {
    target: SocketAddr,
    /// One lock for the links and the cut-off flag, so no connection
    /// slips past a [`Proxy::cut_off`].
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    cut_off: bool,
    next_id: u64,
    links: BTreeMap<u64, Link>,
}

struct Link {
    upstream_port: Option<u16>,
    blackhole: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Mutex::default();
        let shared = Arc::new(Shared { target, state });
        let acceptor = tokio::spawn(accept(listener, shared.clone()));
        Ok(Proxy {
            addr,
            shared,
            acceptor,
        })
    }

    /// The address clients connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The connections accepted and not yet closed, oldest first.
    pub fn connections(&self) -> Vec<Connection> {
        let state = self.shared.lock();
        let list = state.links.iter().map(|(&id, link)| Connection {
            id,
            upstream_port: link.upstream_port,
            blackholed: *link.blackhole.borrow(),
        });
        list.collect()
    }

    /// Silently drops the connection `id`; false if it is gone.
    pub fn blackhole(&self, id: u64) -> bool {
        let state = self.shared.lock();
        let link = state.links.get(&id);
        link.map(|link| link.blackhole.send_replace(true)).is_some()
    }

    /// Silently drops every current connection; new ones still forward.
    pub fn blackhole_all(&self) {
        self.shared.lock().blackhole_all();
    }

    /// Cuts the target off: current connections are blackholed, new ones
    /// accepted and never forwarded, until [`heal`](Self::heal).
    pub fn cut_off(&self) {
        let mut state = self.shared.lock();
        state.cut_off = true;
        state.blackhole_all();
    }

    /// New connections forward again; blackholed ones stay dead.
    pub fn heal(&self) {
        self.shared.lock().cut_off = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        for link in self.shared.lock().links.values() {
            link.task.abort();
        }
    }
}

impl State {
    fn blackhole_all(&self) {
        for link in self.links.values() {
            link.blackhole.send_replace(true);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        let state = self.state.lock();
        state.unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        // Connecting while cut off would let the server see the client.
        let upstream = if shared.lock().cut_off {
            None
        } else {
            match TcpStream::connect(shared.target).await {
                Ok(upstream) => Some(upstream),
                Err(_) => continue, // the target refused: so does the proxy
            }
        };
        let local = upstream.as_ref().and_then(|u| u.local_addr().ok());
        let mut state = shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        // A cut-off that came while connecting holds for this one too.
        let (blackhole, holes) = watch::channel(upstream.is_none() || state.cut_off);
        let task = tokio::spawn(forward(id, client, upstream, holes, shared.clone()));
        let upstream_port = local.map(|a| a.port());
        let link = Link {
            upstream_port,
            blackhole,
            task,
        };
        state.links.insert(id, link);
    }
}

/// Forwards both ways until both sides close, or holds both sockets open,
/// reading nothing, once blackholed.
async fn forward(
    id: u64,
    client: TcpStream,
    upstream: Option<TcpStream>,
    mut holes: watch::Receiver<bool>,
    shared: Arc<Shared>,
) {
    let Some(upstream) = upstream else {
        return hold(client).await; // the client waits for an answer
    };
    let _ = (client.set_nodelay(true), upstream.set_nodelay(true));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let pump = async {
        tokio::try_join!(
            pipe(&mut client_read, &mut upstream_write),
            pipe(&mut upstream_read, &mut client_write),
        )
    };
    tokio::select! {
        biased; // a connection blackholed at birth forwards nothing
        _ = holes.wait_for(|&blackholed| blackholed) => {}
        _ = pump => {
            shared.lock().links.remove(&id);
            return;
        }
    }
    let sockets = (client_read, client_write, upstream_read, upstream_write);
    hold(sockets).await
}

/// Keeps `sockets` open, reading nothing, until the proxy is dropped.
async fn hold<T>(sockets: T) {
    std::future::pending::<()>().await;
    drop(sockets);
}

/// Copies until end of file, then passes the end on (a half close).
async fn pipe(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
) -> std::io::Result<()> {
    tokio::io::copy(from, to).await?;
    to.shutdown().await
}
