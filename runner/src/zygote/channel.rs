//! SOCK_SEQPACKET channels between coderunner and the zygote or one of its slots: one JSON
//! message per packet, file descriptors passed alongside (SCM_RIGHTS), and the sender's pid as
//! the kernel reports it in this process's pid namespace (SO_PASSCRED), which is how coderunner
//! learns the host pid of a process forked deep inside the zygote's namespaces.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, socketpair, sockopt, AddressFamily, ControlMessage,
    ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::protocol::Report;

/// Largest message either side sends (the zygote reads up to 1 MiB).
pub(crate) const MAX_MESSAGE: usize = 1 << 20;
/// Most reports kept from a slot's reaper (how the program ended, its usage, Landlock, alone);
/// more is not the reaper.
const MAX_REPORTS: usize = 16;

/// Our end of a channel (non-blocking, registered with tokio).
#[derive(Debug)]
pub(crate) struct Channel {
    fd: AsyncFd<OwnedFd>,
}

/// One message received.
#[derive(Debug)]
pub(crate) struct Message {
    /// Empty at end of stream (every peer closed its end).
    pub bytes: Vec<u8>,
    /// The sender's pid in our pid namespace (0 when the sender is not visible here).
    pub pid: Option<i32>,
    /// File descriptors sent along (closed when dropped unless taken).
    pub fds: Vec<OwnedFd>,
}

impl Channel {
    /// A connected pair: ours, and the peer's end (blocking, close-on-exec) to hand to the
    /// process on the other side.
    pub(crate) fn pair() -> io::Result<(Channel, OwnedFd)> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )
        .map_err(io::Error::from)?;
        setsockopt(&ours, sockopt::PassCred, &true).map_err(io::Error::from)?;
        set_blocking(&theirs)?;
        Ok((
            Channel {
                // SAFETY: `ours` is an open socket owned by the AsyncFd from here on, and an
                // OwnedFd always returns the same fd.
                fd: unsafe { AsyncFd::register_with_interest(ours, Interest::READABLE)? },
            },
            theirs,
        ))
    }

    /// Send one message with `fds`. Messages are small and the peer reads them promptly, so a
    /// full socket buffer is an error rather than something to wait for.
    pub(crate) fn send(&self, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
        if bytes.len() > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a message of {} bytes is too large", bytes.len()),
            ));
        }
        let iov = [IoSlice::new(bytes)];
        let rights = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
        sendmsg::<UnixAddr>(
            self.fd.get_ref().as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(io::Error::from)?;
        Ok(())
    }

    /// Receive the next message, with the file descriptors sent along.
    pub(crate) async fn recv(&self) -> io::Result<Message> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv_now(fd.get_ref().as_raw_fd())) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Read a slot reaper's reports (a packet holds one per line) until it says it is alone
    /// (its last report) or closes the socket by exiting; the first [`MAX_REPORTS`] are kept.
    pub(crate) async fn reports(&self, into: &mut Vec<Report>) {
        while let Ok(m) = self.recv().await {
            if m.bytes.is_empty() {
                return;
            }
            let batch = Report::parse_stream(&m.bytes);
            let last = batch.contains(&Report::Alone);
            let room = MAX_REPORTS.saturating_sub(into.len());
            into.extend(batch.into_iter().take(room));
            if last {
                return;
            }
        }
    }
}

fn recv_now(fd: RawFd) -> io::Result<Message> {
    // The next packet's size first (MSG_TRUNC gives a packet's whole length), so the buffer is
    // as large as the message rather than MAX_MESSAGE: zeroing and freeing a megabyte per
    // report showed in a fast run's time. A peek takes nothing (nor the fds sent along).
    // SAFETY: recv into no buffer at all (length 0) on an fd we own.
    let len = unsafe {
        libc::recv(
            fd,
            std::ptr::null_mut(),
            0,
            libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
        )
    };
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; (len as usize).clamp(1, MAX_MESSAGE)];
    let mut space = nix::cmsg_space!(libc::ucred, [RawFd; 4]);
    let mut received = Vec::new();
    let (len, pid) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<UnixAddr>(
            fd,
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        let mut pid = None;
        for c in msg.cmsgs().map_err(io::Error::from)? {
            match c {
                ControlMessageOwned::ScmCredentials(cred) => pid = Some(cred.pid()),
                ControlMessageOwned::ScmRights(fds) => {
                    for f in fds {
                        // SAFETY: fds the kernel just installed for us; nobody else owns them.
                        received
                            .push(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(f) });
                    }
                }
                _ => {}
            }
        }
        (msg.bytes, pid)
    };
    buf.truncate(len);
    Ok(Message {
        bytes: buf,
        pid,
        fds: received,
    })
}

fn set_blocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_keep_their_boundaries_and_name_the_sender() {
        let (a, theirs) = Channel::pair().expect("pair");
        let b = std::os::unix::net::UnixDatagram::from(theirs);
        b.send(b"one").expect("send");
        b.send(b"two").expect("send");
        let m = a.recv().await.expect("recv");
        assert_eq!(m.bytes, b"one");
        assert_eq!(m.pid, Some(std::process::id() as i32));
        assert_eq!(a.recv().await.expect("recv").bytes, b"two");
        drop(b);
        assert!(a.recv().await.expect("eof").bytes.is_empty());
    }
}
