<?php
/**
 * The HTTP client of the moderation service (WordPress's HTTP API, no other library).
 *
 * @package ModerationService
 */

defined( 'ABSPATH' ) || exit;

/**
 * Talks to the service: intake as a site backend, labels, moderator decisions, readiness.
 *
 * The service usually runs on the site's own servers (127.0.0.1 or a private address), so the
 * requests use wp_remote_*(), not the wp_safe_remote_*() variants that refuse local addresses.
 */
class Moderation_Service_Client {

	/**
	 * What a label submission answers when it was stored.
	 */
	const SUBMITTED = 'Thanks for making the web a better place.';

	/**
	 * Whether a request in this PHP request found the service unreachable (so that a bulk
	 * action on many comments does not wait for a timeout on each).
	 *
	 * @var bool
	 */
	public static $unreachable = false;

	/**
	 * The service's base URL, without a trailing slash.
	 *
	 * @var string
	 */
	private $base;

	/**
	 * The site key.
	 *
	 * @var string
	 */
	private $key;

	/**
	 * The optional moderator API token.
	 *
	 * @var string
	 */
	private $token;

	/**
	 * Seconds to wait for an answer.
	 *
	 * @var int
	 */
	private $timeout;

	/**
	 * A client for the given address and keys.
	 *
	 * @param string $base    The service's base URL.
	 * @param string $key     The site key.
	 * @param string $token   A moderator API token, or ''.
	 * @param int    $timeout Seconds to wait.
	 */
	public function __construct( $base, $key, $token = '', $timeout = 5 ) {
		$this->base    = untrailingslashit( (string) $base );
		$this->key     = (string) $key;
		$this->token   = (string) $token;
		$this->timeout = max( 1, (int) $timeout );
	}

	/**
	 * The client the settings describe.
	 *
	 * @param int|null $timeout Seconds to wait instead of the setting.
	 * @return Moderation_Service_Client
	 */
	public static function from_settings( $timeout = null ) {
		$settings = Moderation_Service_Settings::get();
		return new self(
			$settings['url'],
			$settings['site_key'],
			$settings['moderator_token'],
			null === $timeout ? (int) $settings['timeout'] : $timeout
		);
	}

	/**
	 * Whether a moderator token is set (decisions are then sent too, not only labels).
	 *
	 * @return bool
	 */
	public function has_moderator_token() {
		return '' !== $this->token;
	}

	/**
	 * Sends a new comment to POST /comments as the site's backend.
	 *
	 * @param array $payload The JSON fields (comment, author, email, url, comment_post_ID, ...).
	 * @return array Either [ok => true, id, status, scores, reasons, model_version], or
	 *               [ok => false, retry => whether to send it again later, error => why, code].
	 */
	public function check_comment( array $payload ) {
		$response = $this->request(
			'POST',
			'/comments',
			array(
				'headers' => array(
					'Authorization' => 'Bearer ' . $this->key,
					'Content-Type'  => 'application/json',
					'Accept'        => 'application/json',
				),
				'body'    => wp_json_encode( $payload ),
			)
		);
		$code = $response['code'];
		if ( 0 === $code ) {
			return self::failure( true, $response['error'], 0 );
		}
		$json = $response['json'];
		if ( 201 === $code || 200 === $code ) {
			$statuses = array( 'approved', 'pending', 'spam', 'rejected' );
			if ( ! is_array( $json ) || empty( $json['id'] ) || ! isset( $json['status'] ) || ! in_array( $json['status'], $statuses, true ) ) {
				return self::failure( false, __( 'The service answered something this plugin does not understand.', 'moderation-service' ), $code );
			}
			return array(
				'ok'            => true,
				'id'            => (int) $json['id'],
				'status'        => (string) $json['status'],
				'scores'        => self::clean_scores( isset( $json['scores'] ) ? $json['scores'] : null ),
				'reasons'       => self::clean_reasons( isset( $json['reasons'] ) ? $json['reasons'] : array() ),
				'model_version' => isset( $json['model_version'] ) && is_scalar( $json['model_version'] ) ? substr( (string) $json['model_version'], 0, 64 ) : '',
			);
		}
		$message = self::error_message( $json, $response['body'] );
		if ( 409 === $code ) {
			/* translators: %s: the service's message. */
			return self::failure( false, sprintf( __( 'The service already has this comment: %s', 'moderation-service' ), $message ), $code );
		}
		if ( 422 === $code ) {
			/* translators: %s: the service's message. */
			return self::failure( false, sprintf( __( 'The service refused the comment\'s fields: %s', 'moderation-service' ), $message ), $code );
		}
		// 5xx (down, overloaded, its database away), 429 (too many comments for now), 401 and
		// 403 (a key to fix in the settings): try again later. Anything else will not change.
		$retry = $code >= 500 || in_array( $code, array( 401, 403, 408, 429 ), true );
		/* translators: 1: an HTTP status code, 2: the service's message. */
		return self::failure( $retry, sprintf( __( 'The service answered HTTP %1$d: %2$s', 'moderation-service' ), $code, $message ), $code );
	}

	/**
	 * GET /readyz: whether the service is up and ready (database, model).
	 *
	 * @return array [ok => bool, message => string].
	 */
	public function readiness() {
		$response = $this->request( 'GET', '/readyz', array( 'headers' => array( 'Accept' => 'application/json' ) ) );
		if ( 0 === $response['code'] ) {
			return array(
				'ok'      => false,
				/* translators: %s: the error. */
				'message' => sprintf( __( 'The service cannot be reached: %s', 'moderation-service' ), $response['error'] ),
			);
		}
		$json = $response['json'];
		if ( 200 === $response['code'] ) {
			$version = is_array( $json ) && isset( $json['model_version'] ) && is_scalar( $json['model_version'] ) ? (string) $json['model_version'] : '';
			return array(
				'ok'      => true,
				/* translators: %s: the model's version. */
				'message' => '' !== $version ? sprintf( __( 'The service is ready (model %s).', 'moderation-service' ), $version ) : __( 'The service is ready.', 'moderation-service' ),
			);
		}
		$problems = is_array( $json ) && isset( $json['problems'] ) && is_array( $json['problems'] ) ? implode( '; ', array_map( 'strval', array_filter( $json['problems'], 'is_scalar' ) ) ) : '';
		return array(
			'ok'      => false,
			/* translators: 1: an HTTP status code, 2: what the service says is wrong. */
			'message' => sprintf( __( 'The service is not ready (HTTP %1$d): %2$s', 'moderation-service' ), $response['code'], '' !== $problems ? $problems : self::error_message( $json, $response['body'] ) ),
		);
	}

	/**
	 * POST /1.1/verify-key: whether the site key is one of the service's.
	 *
	 * @param string $blog The site's URL.
	 * @return array [ok => bool, message => string].
	 */
	public function verify_key( $blog ) {
		$response = $this->request(
			'POST',
			'/1.1/verify-key',
			array(
				'body' => array(
					'key'  => $this->key,
					'blog' => $blog,
				),
			)
		);
		if ( 0 === $response['code'] ) {
			return array(
				'ok'      => false,
				'message' => $response['error'],
			);
		}
		if ( 200 === $response['code'] && 'valid' === trim( $response['body'] ) ) {
			return array(
				'ok'      => true,
				'message' => __( 'The site key is valid.', 'moderation-service' ),
			);
		}
		$help = $response['debug_help'];
		return array(
			'ok'      => false,
			/* translators: %s: the service's explanation. */
			'message' => sprintf( __( 'The site key was refused: %s', 'moderation-service' ), '' !== $help ? $help : trim( $response['body'] ) ),
		);
	}

	/**
	 * GET /api/v1/reviews?per_page=1 with the moderator token: whether the token works.
	 *
	 * @return array [ok => bool, message => string].
	 */
	public function verify_moderator_token() {
		$response = $this->request(
			'GET',
			'/api/v1/reviews?per_page=1',
			array(
				'headers' => array(
					'Authorization' => 'Bearer ' . $this->token,
					'Accept'        => 'application/json',
				),
			)
		);
		if ( 200 === $response['code'] ) {
			$total = is_array( $response['json'] ) && isset( $response['json']['total'] ) ? (int) $response['json']['total'] : 0;
			return array(
				'ok'      => true,
				/* translators: %d: how many comments wait for a moderator. */
				'message' => sprintf( _n( 'The moderator token works (%d comment waits for review).', 'The moderator token works (%d comments wait for review).', $total, 'moderation-service' ), $total ),
			);
		}
		return array(
			'ok'      => false,
			/* translators: %s: the error. */
			'message' => sprintf( __( 'The moderator token was refused: %s', 'moderation-service' ), 0 === $response['code'] ? $response['error'] : self::error_message( $response['json'], $response['body'] ) ),
		);
	}

	/**
	 * A training label through the Akismet-compatible API: spam (submit-spam) or not (submit-ham).
	 *
	 * @param bool  $spam   Whether the comment is spam.
	 * @param array $fields Akismet's fields (user_ip, comment_content, comment_author, ...).
	 * @return array [ok => bool, message => string].
	 */
	public function submit_label( $spam, array $fields ) {
		$fields['api_key'] = $this->key;
		$response          = $this->request( 'POST', $spam ? '/1.1/submit-spam' : '/1.1/submit-ham', array( 'body' => $fields ) );
		if ( 200 === $response['code'] && self::SUBMITTED === trim( $response['body'] ) ) {
			return array(
				'ok'      => true,
				'message' => '',
			);
		}
		return array(
			'ok'      => false,
			'message' => 0 === $response['code'] ? $response['error'] : ( '' !== $response['debug_help'] ? $response['debug_help'] : self::error_message( $response['json'], $response['body'] ) ),
		);
	}

	/**
	 * An abuse label through the Perspective-compatible API (Akismet's protocol has no such
	 * label): POST /v1alpha1/comments:suggestscore with TOXICITY 1.
	 *
	 * @param string $text         The comment's text.
	 * @param string $client_token Echoed back (the WordPress comment, for the service's logs).
	 * @return array [ok => bool, message => string].
	 */
	public function submit_abuse_label( $text, $client_token ) {
		$response = $this->request(
			'POST',
			'/v1alpha1/comments:suggestscore',
			array(
				'headers' => array(
					'X-Goog-Api-Key' => $this->key, // Not ?key=: a query string shows in access logs.
					'Content-Type'   => 'application/json',
				),
				'body'    => wp_json_encode(
					array(
						'comment'         => array( 'text' => $text ),
						'attributeScores' => array( 'TOXICITY' => array( 'summaryScore' => array( 'value' => 1 ) ) ),
						'clientToken'     => $client_token,
					)
				),
			)
		);
		if ( 200 === $response['code'] ) {
			return array(
				'ok'      => true,
				'message' => '',
			);
		}
		return array(
			'ok'      => false,
			'message' => 0 === $response['code'] ? $response['error'] : self::error_message( $response['json'], $response['body'] ),
		);
	}

	/**
	 * A moderator's decision on a comment the service holds for review (needs the token).
	 *
	 * @param int    $service_id The service's comment id.
	 * @param string $action     approve, reject_spam or reject_abuse.
	 * @param string $reason     Why (who decided, in WordPress).
	 * @return array [ok => bool, status => the service's new status or '', message => string, code].
	 */
	public function decide( $service_id, $action, $reason ) {
		$response = $this->request(
			'POST',
			'/api/v1/reviews/' . absint( $service_id ) . '/decision',
			array(
				'headers' => array(
					'Authorization' => 'Bearer ' . $this->token,
					'Content-Type'  => 'application/json',
					'Accept'        => 'application/json',
				),
				'body'    => wp_json_encode(
					array(
						'action' => $action,
						'reason' => substr( $reason, 0, 500 ),
					)
				),
			)
		);
		$json = $response['json'];
		if ( 200 === $response['code'] && is_array( $json ) && isset( $json['item']['status'] ) ) {
			return array(
				'ok'      => true,
				'status'  => (string) $json['item']['status'],
				'message' => '',
				'code'    => 200,
			);
		}
		return array(
			'ok'      => false,
			'status'  => '',
			'message' => 0 === $response['code'] ? $response['error'] : self::error_message( $json, $response['body'] ),
			'code'    => $response['code'],
		);
	}

	/**
	 * GET /comments/<id>: the public status (approved, pending or rejected; spam shows as
	 * pending). For polling where no webhook secret is set.
	 *
	 * @param int $service_id The service's comment id.
	 * @return string|null The status, or null when it could not be read.
	 */
	public function public_status( $service_id ) {
		$response = $this->request( 'GET', '/comments/' . absint( $service_id ), array( 'headers' => array( 'Accept' => 'application/json' ) ) );
		if ( 200 === $response['code'] && is_array( $response['json'] ) && isset( $response['json']['status'] ) && is_string( $response['json']['status'] ) ) {
			return $response['json']['status'];
		}
		return null;
	}

	/**
	 * One request; never throws.
	 *
	 * @param string $method GET or POST.
	 * @param string $path   The path (and query) under the base URL.
	 * @param array  $args   Extra wp_remote_request() arguments.
	 * @return array [code => HTTP status or 0 when there was no answer, body, json, error, debug_help].
	 */
	private function request( $method, $path, array $args ) {
		$result = array(
			'code'       => 0,
			'body'       => '',
			'json'       => null,
			'error'      => '',
			'debug_help' => '',
		);
		if ( '' === $this->base ) {
			$result['error'] = __( 'No service URL is set.', 'moderation-service' );
			return $result;
		}
		$args = array_merge(
			array(
				'method'      => $method,
				'timeout'     => $this->timeout,
				'redirection' => 0,
				'user-agent'  => 'moderation-service-wordpress/' . MODERATION_SERVICE_VERSION . '; ' . home_url( '/' ),
			),
			$args
		);
		$response = wp_remote_request( $this->base . $path, $args );
		if ( is_wp_error( $response ) ) {
			self::$unreachable = true;
			$result['error']   = $response->get_error_message();
			return $result;
		}
		$result['code']       = (int) wp_remote_retrieve_response_code( $response );
		$result['body']       = (string) wp_remote_retrieve_body( $response );
		$result['debug_help'] = (string) wp_remote_retrieve_header( $response, 'x-akismet-debug-help' );
		$decoded              = json_decode( $result['body'], true );
		$result['json']       = JSON_ERROR_NONE === json_last_error() ? $decoded : null;
		if ( 0 === $result['code'] ) {
			$result['error'] = __( 'The service gave no HTTP status.', 'moderation-service' );
		}
		return $result;
	}

	/**
	 * A failed check.
	 *
	 * @param bool   $retry Whether to send the comment again later.
	 * @param string $error Why it failed.
	 * @param int    $code  The HTTP status, or 0.
	 * @return array
	 */
	private static function failure( $retry, $error, $code ) {
		return array(
			'ok'    => false,
			'retry' => (bool) $retry,
			'error' => substr( (string) $error, 0, 500 ),
			'code'  => (int) $code,
		);
	}

	/**
	 * The service's message from an error answer (JSON `message` and `errors`, or the text).
	 *
	 * @param mixed  $json The decoded body.
	 * @param string $body The raw body.
	 * @return string
	 */
	private static function error_message( $json, $body ) {
		if ( is_array( $json ) ) {
			$parts = array();
			if ( isset( $json['message'] ) && is_scalar( $json['message'] ) ) {
				$parts[] = (string) $json['message'];
			}
			if ( isset( $json['error']['message'] ) && is_scalar( $json['error']['message'] ) ) {
				$parts[] = (string) $json['error']['message'];
			}
			if ( isset( $json['errors'] ) && is_array( $json['errors'] ) ) {
				foreach ( $json['errors'] as $error ) {
					if ( is_array( $error ) && isset( $error['message'] ) && is_scalar( $error['message'] ) ) {
						$field   = isset( $error['field'] ) && is_scalar( $error['field'] ) ? $error['field'] . ': ' : '';
						$parts[] = $field . $error['message'];
					}
				}
			}
			if ( $parts ) {
				return substr( implode( ' ', $parts ), 0, 400 );
			}
		}
		return substr( trim( wp_strip_all_tags( $body ) ), 0, 200 );
	}

	/**
	 * The scores as {spam, abuse} floats, or an empty array.
	 *
	 * @param mixed $scores The answer's scores.
	 * @return array
	 */
	private static function clean_scores( $scores ) {
		$clean = array();
		if ( is_array( $scores ) ) {
			foreach ( array( 'spam', 'abuse' ) as $head ) {
				if ( isset( $scores[ $head ] ) && is_numeric( $scores[ $head ] ) ) {
					$clean[ $head ] = max( 0.0, min( 1.0, (float) $scores[ $head ] ) );
				}
			}
		}
		return $clean;
	}

	/**
	 * The reasons as a list of {code, detail} strings.
	 *
	 * @param mixed $reasons The answer's reasons.
	 * @return array
	 */
	private static function clean_reasons( $reasons ) {
		$clean = array();
		if ( is_array( $reasons ) ) {
			foreach ( array_slice( $reasons, 0, 20 ) as $reason ) {
				if ( is_array( $reason ) && isset( $reason['code'] ) && is_scalar( $reason['code'] ) ) {
					$clean[] = array(
						'code'   => substr( (string) $reason['code'], 0, 64 ),
						'detail' => isset( $reason['detail'] ) && is_scalar( $reason['detail'] ) ? substr( (string) $reason['detail'], 0, 300 ) : '',
					);
				}
			}
		}
		return $clean;
	}
}
