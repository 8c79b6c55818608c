// Whether a request's client has gone away while its items wait for a batch, so that its
// queue places are freed at once. cpp-httplib 0.11 (Debian 12) gives handlers no access to the
// connection (Request::is_connection_closed arrived later), so the socket is found by its
// addresses: the fd whose peer is the request's remote address and port.
#pragma once

#include <string>

namespace cc {

class ConnectionWatch {
 public:
  ConnectionWatch(const std::string& remote_addr, int remote_port);
  // True once the peer has closed or reset the connection. Unknown sockets never count as gone.
  bool gone() const;

 private:
  int fd_ = -1;
};

}  // namespace cc
