/*
 * A small HTTP/1.0 responder for a rumprun unikernel: NetBSD's TCP/IP stack and virtio-net
 * driver under a bare-metal platform, booted by `rumpkg run` under QEMU.
 *
 * Listens on TCP port 80 (or argv[1]). Every request gets a short text/plain answer naming the
 * path asked for; `GET /quit` answers "bye" and ends the program with status 0, which halts the
 * kernel and ends `rumpkg run`.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
answer(int c, const char *status, const char *body)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    status, strlen(body));
	write(c, head, n);
	write(c, body, strlen(body));
}

int
main(int argc, char *argv[])
{
	int port = argc > 1 ? atoi(argv[1]) : 80;
	struct sockaddr_in sin, from;
	socklen_t fl;
	char req[1024], path[256], body[512];
	int s, c, one = 1, served = 0, quit = 0;
	ssize_t n;

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		perror("httpd: socket");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_len = sizeof(sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(s, 8) == -1) {
		perror("httpd: bind/listen");
		return 1;
	}
	printf("httpd: listening on tcp port %d\n", port);
	fflush(stdout);
	while (!quit) {
		fl = sizeof(from);
		if ((c = accept(s, (struct sockaddr *)&from, &fl)) == -1) {
			perror("httpd: accept");
			return 1;
		}
		n = read(c, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = '\0';
		if (sscanf(req, "GET %255s", path) != 1) {
			answer(c, "400 Bad Request", "bad request\n");
		} else if (strcmp(path, "/quit") == 0) {
			answer(c, "200 OK", "bye\n");
			quit = 1;
		} else {
			snprintf(body, sizeof(body), "hello from NetBSD on rumprun: %s (request %d)\n", path, ++served);
			answer(c, "200 OK", body);
		}
		printf("httpd: %s:%d GET %s\n", inet_ntoa(from.sin_addr), ntohs(from.sin_port), path);
		fflush(stdout);
		close(c);
	}
	close(s);
	printf("httpd: served %d requests\n", served);
	return 0;
}
