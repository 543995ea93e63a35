/*
 * metricsd.c - the metrics listener (metricsd.h).
 *
 * Why a listener of its own and not a path on the main one: the main port
 * faces clients, and what /metrics shows (worker counts, rejection
 * reasons, service names) is for the operator; on its own address it can
 * sit on loopback or a management network, and a client cannot reach it
 * whatever a proxy in front forwards.  It is small on purpose: a few
 * connections (METRICSD_CONNECTIONS, METRICSD_PER_IP), each dropped when
 * idle for METRICSD_TIMEOUT_S, requests read into a small buffer
 * (METRICSD_MEMORY), and one answer: GET (or HEAD) /metrics; any other
 * path is 404, any other method 405.  A body sent with a request is
 * discarded unread.  A scrape is written by the front's thread in the
 * front's loop turn, so it sees the figures of one instant.
 */
#include "http/metricsd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "core/log.h"

#define METRICSD_CONNECTIONS	8	/* scrapers at once, all together */
#define METRICSD_PER_IP		4	/* ... from one address */
#define METRICSD_TIMEOUT_S	10	/* an idle connection lives */
#define METRICSD_MEMORY		8192	/* a request's head, per connection */

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct metricsd {
	struct MHD_Daemon	*mhd;
	int			 fd;
	metricsd_scrape_fn	 scrape;
	void			*arg;
};

/* A short plain-text answer for what is not a scrape. */
static enum MHD_Result
answer_text(struct MHD_Connection *c, unsigned status, const char *text,
    const char *allow)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	static int		 seen;
	struct metricsd		*d = cls;
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	char			*body;
	size_t			 len;

	/* First call: the head only; answer once the body (if any) is in. */
	if (*con_cls == NULL) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;	/* discarded */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return answer_text(c, MHD_HTTP_NOT_FOUND,
		    "not found: the only path here is /metrics\n", NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed: use GET\n", "GET");
	if ((body = d->scrape(d->arg, &len)) == NULL)
		return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n", NULL);
	resp = MHD_create_response_from_buffer(len, body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    CONTENT_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_info("metrics listener: %s", buf);
}

struct metricsd *
metricsd_start(const char *host, uint16_t port, metricsd_scrape_fn scrape,
    void *arg)
{
	const union MHD_DaemonInfo	*info;
	struct sockaddr_storage		 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;
	struct metricsd			*d;
	unsigned int			 flags = MHD_USE_EPOLL |
					    MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		log_warnx("metrics listener: %s is not a numeric address",
		    host);
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->scrape = scrape;
	d->arg = arg;
	d->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, d,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICSD_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICSD_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)METRICSD_PER_IP,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICSD_MEMORY,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
	    MHD_OPTION_END);
	if (d->mhd == NULL || (info = MHD_get_daemon_info(d->mhd,
	    MHD_DAEMON_INFO_EPOLL_FD)) == NULL) {
		log_warnx("metrics listener: cannot listen on %s port %u",
		    host, (unsigned)port);
		metricsd_stop(d);
		return NULL;
	}
	d->fd = info->epoll_fd;
	return d;
}

int
metricsd_fd(struct metricsd *d)
{
	return d->fd;
}

long
metricsd_timeout(struct metricsd *d, long most_ms)
{
	MHD_UNSIGNED_LONG_LONG	t;

	if (MHD_get_timeout(d->mhd, &t) != MHD_YES || t > (unsigned long)most_ms)
		return most_ms;
	return (long)t;
}

void
metricsd_run(struct metricsd *d)
{
	MHD_run(d->mhd);
}

void
metricsd_stop(struct metricsd *d)
{
	if (d == NULL)
		return;
	if (d->mhd != NULL)
		MHD_stop_daemon(d->mhd);
	free(d);
}
