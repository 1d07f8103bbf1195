//! TAP: the door to the real host. A vimage interface attached to a Linux
//! TAP device, so the host kernel's own stack is a peer. A reader thread
//! turns every frame the host sends into an event for the engine; frames
//! the vnet sends are written straight to the device. Real clock only.

use std::io::ErrorKind;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tun_rs::{DeviceBuilder, InterruptEvent, Layer, SyncDevice};

use crate::kern::Ext;

/// An open TAP device.
pub struct Tap {
    /// The device's name on the host.
    pub hostname: String,
    dev: Option<Arc<SyncDevice>>,
    stop: Option<Arc<InterruptEvent>>,
    reader: Option<JoinHandle<()>>,
    bind: Option<std::sync::mpsc::Sender<(u32, u32)>>,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tap({})", self.hostname)
    }
}

impl Tap {
    /// Create (or attach to) host TAP device `hostname` and bring it up;
    /// what it receives goes to the interface named by [`Tap::bind`].
    pub fn open(hostname: &str, ext: crate::kern::poller::ExtSender) -> std::io::Result<Tap> {
        let dev = Arc::new(
            DeviceBuilder::new()
                .name(hostname)
                .layer(Layer::L2)
                .enable(true)
                .build_sync()?,
        );
        let stop = Arc::new(InterruptEvent::new()?);
        let (rdev, rstop) = (dev.clone(), stop.clone());
        let (bind_tx, bind_rx) = std::sync::mpsc::channel::<(u32, u32)>();
        let reader = std::thread::Builder::new()
            .name(format!("tap-{hostname}"))
            .spawn(move || {
                let Ok((index, generation)) = bind_rx.recv() else {
                    return;
                };
                let mut buf = vec![0u8; 65536];
                loop {
                    match rdev.recv_intr_timeout(&mut buf, &rstop, Some(Duration::from_secs(1))) {
                        Ok(n) => {
                            let ev = Ext::Frame {
                                index,
                                generation,
                                data: buf[..n].to_vec(),
                            };
                            if ext.send(ev).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::TimedOut => {}
                        Err(_) => return,
                    }
                }
            })?;
        Ok(Tap {
            hostname: hostname.to_string(),
            dev: Some(dev),
            stop: Some(stop),
            reader: Some(reader),
            bind: Some(bind_tx),
        })
    }

    /// Start delivering received frames to interface `index`/`generation`.
    pub fn bind(&mut self, index: u32, generation: u32) {
        if let Some(b) = self.bind.take() {
            let _ = b.send((index, generation));
        }
    }

    /// A handle that sends frames to the host (while the device lives).
    pub fn writer(&self) -> TapWriter {
        TapWriter(self.dev.as_ref().map(Arc::downgrade))
    }

    /// Stop the reader and close the device (the host deletes it).
    pub fn close(&mut self) {
        self.bind = None;
        if let Some(s) = self.stop.take() {
            let _ = s.trigger();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.dev = None;
    }
}

/// Sends frames to a TAP device; does nothing once it is closed.
#[derive(Clone)]
pub struct TapWriter(Option<std::sync::Weak<SyncDevice>>);

impl TapWriter {
    pub fn write(&self, frame: &[u8]) {
        if let Some(d) = self.0.as_ref().and_then(|w| w.upgrade()) {
            let _ = d.send(frame);
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.close();
    }
}
