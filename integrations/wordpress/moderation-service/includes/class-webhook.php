<?php
/**
 * The service's signed webhooks: a REST route that moves a comment where a decision put it.
 *
 * @package ModerationService
 */

defined( 'ABSPATH' ) || exit;

/**
 * POST /wp-json/moderation-service/v1/webhook (or /?rest_route=/moderation-service/v1/webhook
 * with plain permalinks).
 *
 * The service sends `{"id", "event", "created_at", "comment": {"id", "status", ...}}` signed
 * in the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp` and `webhook-signature:
 * v1,<base64>[ v1,<base64>...]`, where each signature is HMAC-SHA256 of "<id>.<timestamp>.<raw
 * body>" keyed with one of its secrets (a `whsec_` secret is base64; any other is used as it
 * is). A request is taken only when one signature matches one of this site's secrets and the
 * timestamp is within five minutes of now. Delivery is at least once and retries can overtake: an event is applied only
 * if its id is greater than the last one applied to that comment, and not if a WordPress
 * moderator changed the comment after the event was made. An event whose status is the one
 * this site already knows (the echo of intake's own answer, or of a decision sent from here)
 * changes nothing, so a comment held by WordPress's manual approval stays held.
 */
class Moderation_Service_Webhook {

	const ROUTE_NAMESPACE = 'moderation-service/v1';
	const ROUTE           = '/webhook';
	const TOLERANCE       = 300;
	// How long an event about a comment this site does not know (yet) is answered 404, so the
	// service tries again: the comment's id is stored just after the service answered intake.
	const UNKNOWN_GRACE = 120;

	/**
	 * Hooks in.
	 */
	public static function register() {
		add_action( 'rest_api_init', array( __CLASS__, 'routes' ) );
	}

	/**
	 * The URL to set as MODERATION_WEBHOOK_URL on the service.
	 *
	 * @return string
	 */
	public static function url() {
		return rest_url( self::ROUTE_NAMESPACE . self::ROUTE );
	}

	/**
	 * Registers the route. Anyone may call it: the signature is the authentication.
	 */
	public static function routes() {
		register_rest_route(
			self::ROUTE_NAMESPACE,
			self::ROUTE,
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'receive' ),
				'permission_callback' => '__return_true',
			)
		);
	}

	/**
	 * Whether the header holds a valid signature of the message at that timestamp.
	 *
	 * @param string   $body      The raw request body.
	 * @param string   $id        webhook-id.
	 * @param string   $timestamp webhook-timestamp (unix seconds).
	 * @param string   $header    webhook-signature.
	 * @param string[] $secrets   The secrets a signature may be made with.
	 * @param int|null $now       The current time (tests move it).
	 * @return bool
	 */
	public static function verify( $body, $id, $timestamp, $header, array $secrets, $now = null ) {
		$timestamp = trim( (string) $timestamp );
		if ( '' === (string) $id || '' === $timestamp || strlen( $timestamp ) > 12 || ! ctype_digit( $timestamp ) ) {
			return false;
		}
		$now = null === $now ? time() : (int) $now;
		if ( abs( $now - (int) $timestamp ) > self::TOLERANCE ) {
			return false; // Too old (or from the future): a replay, or a clock far off.
		}
		$given = array();
		foreach ( explode( ' ', (string) $header ) as $entry ) {
			if ( 0 === strpos( $entry, 'v1,' ) ) {
				$given[] = substr( $entry, 3 );
			}
		}
		foreach ( $secrets as $secret ) {
			$secret = (string) $secret;
			if ( 0 === strpos( $secret, 'whsec_' ) ) {
				$secret = (string) base64_decode( substr( $secret, 6 ), true );
			}
			if ( '' === $secret ) {
				continue;
			}
			$expected = base64_encode( hash_hmac( 'sha256', $id . '.' . $timestamp . '.' . $body, $secret, true ) );
			foreach ( $given as $candidate ) {
				if ( hash_equals( $expected, $candidate ) ) {
					return true;
				}
			}
		}
		return false;
	}

	/**
	 * Takes one event.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response
	 */
	public static function receive( WP_REST_Request $request ) {
		$secrets = Moderation_Service_Settings::webhook_secrets();
		if ( ! $secrets ) {
			return self::answer( 403, 'webhooks_off', 'No webhook secret is set in Settings > Moderation service.' );
		}
		$body = (string) $request->get_body();
		if ( ! self::verify( $body, (string) $request->get_header( 'webhook_id' ), (string) $request->get_header( 'webhook_timestamp' ), (string) $request->get_header( 'webhook_signature' ), $secrets ) ) {
			return self::answer( 401, 'bad_signature', 'The signature or its timestamp is not valid.' );
		}
		$event = json_decode( $body, true );
		if ( ! is_array( $event ) || ! isset( $event['id'], $event['comment']['id'], $event['comment']['status'] ) || ! is_numeric( $event['id'] ) || ! is_numeric( $event['comment']['id'] ) ) {
			return self::answer( 400, 'bad_event', 'The body is not an event.' );
		}
		update_option( 'moderation_service_last_webhook', time(), false );
		$event_id   = (int) $event['id'];
		$service_id = (int) $event['comment']['id'];
		$status     = (string) $event['comment']['status'];
		$created_at = isset( $event['created_at'] ) && is_string( $event['created_at'] ) ? strtotime( $event['created_at'] ) : false;
		if ( ! in_array( $status, array( 'approved', 'pending', 'spam', 'rejected' ), true ) ) {
			return self::answer( 200, 'ignored', 'Unknown status.' );
		}

		$comment_id = Moderation_Service_Comments::find_by_service_id( $service_id );
		if ( $comment_id <= 0 ) {
			if ( false !== $created_at && time() - $created_at < self::UNKNOWN_GRACE ) {
				return self::answer( 404, 'unknown_comment', 'No comment here has this id yet; try again.' );
			}
			return self::answer( 200, 'ignored', 'No comment here has this id.' );
		}
		$last = (int) get_comment_meta( $comment_id, Moderation_Service_Comments::META_EVENT, true );
		if ( $event_id <= $last ) {
			return self::answer( 200, 'duplicate', 'This event, or a newer one, was applied already.' );
		}
		$previous = (string) get_comment_meta( $comment_id, Moderation_Service_Comments::META_STATUS, true );
		update_comment_meta( $comment_id, Moderation_Service_Comments::META_EVENT, $event_id );
		update_comment_meta( $comment_id, Moderation_Service_Comments::META_STATUS, $status );
		if ( $previous === $status ) {
			// The echo of what this site already acted on (intake's own answer, or a decision
			// this site sent): WordPress's status may differ on purpose, e.g. manual approval.
			return self::answer( 200, 'unchanged', '' );
		}

		$local = (int) get_comment_meta( $comment_id, Moderation_Service_Comments::META_LOCAL_CHANGE, true );
		if ( $local > 0 && false !== $created_at && $created_at < $local ) {
			return self::answer( 200, 'superseded', 'A WordPress moderator changed this comment since.' );
		}
		$changed = Moderation_Service_Comments::apply_status( $comment_id, $status, true );
		if ( $changed ) {
			Moderation_Service_Comments::note(
				$comment_id,
				/* translators: %s: the service's status. */
				sprintf( __( 'Set by the service\'s webhook (%s).', 'moderation-service' ), $status )
			);
		}
		return self::answer( 200, $changed ? 'applied' : 'unchanged', '' );
	}

	/**
	 * A JSON answer.
	 *
	 * @param int    $status  The HTTP status.
	 * @param string $code    What happened.
	 * @param string $message Why.
	 * @return WP_REST_Response
	 */
	private static function answer( $status, $code, $message ) {
		return new WP_REST_Response(
			array(
				'code'    => $code,
				'message' => $message,
			),
			$status
		);
	}
}
