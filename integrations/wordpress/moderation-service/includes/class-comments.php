<?php
/**
 * Comments: asking the service about each new one, keeping its answer, re-checking the ones
 * held while it was away, and telling it what WordPress's moderators decide.
 *
 * @package ModerationService
 */

defined( 'ABSPATH' ) || exit;

/**
 * The comment hooks.
 *
 * The service's three outcomes, as WordPress statuses:
 *
 * - approved: published (1), unless "Comment must be manually approved" is on, where it is held;
 * - pending: held for moderation (0);
 * - spam: spam; rejected (abuse): trash, or spam (the setting "Refused as abuse").
 *
 * A comment that cannot be checked (the service is down or slow, 5xx, 429, a refused key) is
 * held and marked `moderation_service_recheck`; WP-Cron (and opening the Comments screen)
 * sends it again once the service answers.
 */
class Moderation_Service_Comments {

	const META_ID           = 'moderation_service_id';
	const META_STATUS       = 'moderation_service_status';
	const META_REASONS      = 'moderation_service_reasons';
	const META_SCORES       = 'moderation_service_scores';
	const META_MODEL        = 'moderation_service_model';
	const META_CHECKED_AT   = 'moderation_service_checked_at';
	const META_RECHECK      = 'moderation_service_recheck';
	const META_ERROR        = 'moderation_service_error';
	const META_REFERRER     = 'moderation_service_referrer';
	const META_EVENT        = 'moderation_service_event';
	const META_LOCAL_CHANGE = 'moderation_service_local_change';
	const META_NOTE         = 'moderation_service_note';

	const CRON_HOOK     = 'moderation_service_cron';
	const CRON_SCHEDULE = 'moderation_service_every_5_minutes';
	const LOCK          = 'moderation_service_recheck_lock';

	/**
	 * The service's answers by comment fingerprint: wp_new_comment() may run the approval
	 * filter twice for one comment, and the service must not see it twice.
	 *
	 * @var array
	 */
	private static $answers = array();

	/**
	 * The fingerprint of the comment being inserted, whose answer is stored once it has an id.
	 *
	 * @var string|null
	 */
	private static $pending = null;

	/**
	 * True while this plugin itself changes a comment's status (so it is not reported back).
	 *
	 * @var bool
	 */
	private static $syncing = false;

	/**
	 * Hooks in.
	 */
	public static function register() {
		add_filter( 'pre_comment_approved', array( __CLASS__, 'pre_comment_approved' ), 99, 2 );
		add_action( 'wp_insert_comment', array( __CLASS__, 'inserted' ), 10, 2 );
		add_action( 'transition_comment_status', array( __CLASS__, 'transitioned' ), 10, 3 );
		add_filter( 'cron_schedules', array( __CLASS__, 'cron_schedules' ) );
		add_action( self::CRON_HOOK, array( __CLASS__, 'run_cron' ) );
		add_action( 'init', array( __CLASS__, 'ensure_cron' ) );
	}

	/**
	 * Activation: the default settings and the cron event.
	 */
	public static function activate() {
		add_option( Moderation_Service_Settings::OPTION, Moderation_Service_Settings::defaults() );
		self::ensure_cron();
	}

	/**
	 * Deactivation: no more cron runs.
	 */
	public static function deactivate() {
		wp_clear_scheduled_hook( self::CRON_HOOK );
	}

	// ------------------------------------------------------------------------------- intake.

	/**
	 * The approval status of a new comment: the service's decision (pre_comment_approved).
	 *
	 * @param int|string|WP_Error $approved    WordPress's own status so far.
	 * @param array               $commentdata The comment (slashed, as wp_new_comment has it).
	 * @return int|string|WP_Error
	 */
	public static function pre_comment_approved( $approved, $commentdata ) {
		if ( is_wp_error( $approved ) || ! Moderation_Service_Settings::configured() ) {
			return $approved;
		}
		$data = wp_unslash( (array) $commentdata );
		$type = isset( $data['comment_type'] ) ? (string) $data['comment_type'] : 'comment';
		if ( '' !== $type && 'comment' !== $type ) {
			return $approved; // Pingbacks and trackbacks: WordPress's own rules.
		}
		if ( 'spam' === $approved || 'trash' === $approved ) {
			return $approved; // WordPress's disallowed keys have decided already.
		}
		if ( self::trusted_author( $data ) ) {
			return $approved; // The site's moderators and the post's author.
		}
		$fingerprint = self::fingerprint( $data );
		if ( ! isset( self::$answers[ $fingerprint ] ) ) {
			$referrer                      = self::referrer();
			$client                        = Moderation_Service_Client::from_settings();
			self::$answers[ $fingerprint ] = array(
				'result'   => $client->check_comment( self::payload( $data, $referrer ) ),
				'referrer' => $referrer,
			);
		}
		self::$pending = $fingerprint;
		return self::wordpress_status( self::$answers[ $fingerprint ]['result'] );
	}

	/**
	 * Stores the service's answer with the comment once it has an id (wp_insert_comment).
	 *
	 * @param int        $comment_id The new comment's id.
	 * @param WP_Comment $comment    The new comment.
	 */
	public static function inserted( $comment_id, $comment ) {
		if ( null === self::$pending || ! $comment instanceof WP_Comment ) {
			return;
		}
		$fingerprint = self::fingerprint( $comment->to_array() );
		if ( $fingerprint !== self::$pending || ! isset( self::$answers[ $fingerprint ] ) ) {
			return;
		}
		$answer        = self::$answers[ $fingerprint ];
		self::$pending = null;
		unset( self::$answers[ $fingerprint ] );
		self::record( (int) $comment_id, $answer['result'], $answer['referrer'] );
		if ( 'trash' === $comment->comment_approved ) {
			// As wp_trash_comment() leaves it: emptied after EMPTY_TRASH_DAYS, restored as held.
			add_comment_meta( $comment_id, '_wp_trash_meta_status', '0', true );
			add_comment_meta( $comment_id, '_wp_trash_meta_time', time(), true );
		}
	}

	/**
	 * What the service is told about a comment (POST /comments as a site backend).
	 *
	 * @param array  $data     The comment's fields (unslashed), as in wp_comments.
	 * @param string $referrer The page the commenter came from.
	 * @return array
	 */
	public static function payload( array $data, $referrer ) {
		$parent         = isset( $data['comment_parent'] ) ? absint( $data['comment_parent'] ) : 0;
		$service_parent = 0;
		if ( $parent > 0 ) {
			// The service threads a reply only under a comment it has published.
			$parent_id = (int) get_comment_meta( $parent, self::META_ID, true );
			if ( $parent_id > 0 && 'approved' === get_comment_meta( $parent, self::META_STATUS, true ) ) {
				$service_parent = $parent_id;
			}
		}
		return array(
			'comment'         => self::field( $data, 'comment_content', false ),
			'author'          => self::field( $data, 'comment_author' ),
			'email'           => self::field( $data, 'comment_author_email' ),
			'url'             => self::field( $data, 'comment_author_url' ),
			'comment_post_ID' => (string) ( isset( $data['comment_post_ID'] ) ? absint( $data['comment_post_ID'] ) : 0 ),
			'comment_parent'  => $service_parent,
			'user_ip'         => self::field( $data, 'comment_author_IP' ),
			'user_agent'      => self::field( $data, 'comment_agent' ),
			'referrer'        => substr( self::one_line( $referrer ), 0, 2048 ),
			'verified_author' => ! empty( $data['user_id'] ),
		);
	}

	/**
	 * WordPress's status for the service's answer (for a new comment or a re-check).
	 *
	 * @param array $result The client's answer.
	 * @return int|string 1, 0, 'spam' or 'trash'.
	 */
	public static function wordpress_status( array $result ) {
		if ( empty( $result['ok'] ) ) {
			return 0; // Not checked: held until the service answers, or a person looks.
		}
		switch ( $result['status'] ) {
			case 'approved':
				return get_option( 'comment_moderation' ) ? 0 : 1;
			case 'spam':
				return 'spam';
			case 'rejected':
				return Moderation_Service_Settings::rejected_status();
			default:
				return 0;
		}
	}

	/**
	 * Keeps the service's answer (or why there is none) in the comment's meta.
	 *
	 * @param int    $comment_id The comment.
	 * @param array  $result     The client's answer.
	 * @param string $referrer   The commenter's referrer (kept only while a re-check waits).
	 */
	public static function record( $comment_id, array $result, $referrer = '' ) {
		update_comment_meta( $comment_id, self::META_CHECKED_AT, time() );
		if ( ! empty( $result['ok'] ) ) {
			update_comment_meta( $comment_id, self::META_ID, (int) $result['id'] );
			update_comment_meta( $comment_id, self::META_STATUS, $result['status'] );
			update_comment_meta( $comment_id, self::META_REASONS, $result['reasons'] );
			update_comment_meta( $comment_id, self::META_SCORES, $result['scores'] );
			update_comment_meta( $comment_id, self::META_MODEL, $result['model_version'] );
			delete_comment_meta( $comment_id, self::META_RECHECK );
			delete_comment_meta( $comment_id, self::META_ERROR );
			delete_comment_meta( $comment_id, self::META_REFERRER );
			return;
		}
		update_comment_meta( $comment_id, self::META_ERROR, $result['error'] );
		if ( ! empty( $result['retry'] ) ) {
			update_comment_meta( $comment_id, self::META_RECHECK, '1' );
			if ( '' !== (string) $referrer ) {
				update_comment_meta( $comment_id, self::META_REFERRER, (string) $referrer );
			}
		} else {
			delete_comment_meta( $comment_id, self::META_RECHECK );
			delete_comment_meta( $comment_id, self::META_REFERRER );
		}
	}

	// ------------------------------------------------------------------------ re-checking.

	/**
	 * Adds the five-minute schedule WP-Cron runs the re-check on.
	 *
	 * @param array $schedules WP-Cron's schedules.
	 * @return array
	 */
	public static function cron_schedules( $schedules ) {
		$schedules[ self::CRON_SCHEDULE ] = array(
			'interval' => 5 * MINUTE_IN_SECONDS,
			'display'  => __( 'Every five minutes (moderation service)', 'moderation-service' ),
		);
		return $schedules;
	}

	/**
	 * Schedules the cron event once the plugin is configured (also when it was activated by
	 * setting the active_plugins option, where no activation hook runs).
	 */
	public static function ensure_cron() {
		if ( Moderation_Service_Settings::configured() && ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_event( time(), self::CRON_SCHEDULE, self::CRON_HOOK );
		}
	}

	/**
	 * The cron event: re-check the held comments; poll decisions when no webhook comes.
	 */
	public static function run_cron() {
		self::recheck( 20 );
		if ( ! Moderation_Service_Settings::webhook_secrets() ) {
			self::poll( 20 );
		}
	}

	/**
	 * How many held comments wait to be sent to the service again.
	 *
	 * @return int
	 */
	public static function count_to_recheck() {
		global $wpdb;
		return (int) $wpdb->get_var(
			$wpdb->prepare(
				"SELECT COUNT(*) FROM {$wpdb->commentmeta} m INNER JOIN {$wpdb->comments} c ON c.comment_ID = m.comment_id WHERE m.meta_key = %s AND m.meta_value = '1' AND c.comment_approved = '0'",
				self::META_RECHECK
			)
		);
	}

	/**
	 * Sends held comments that were not checked to the service again, oldest first; stops at
	 * the first one the service still cannot take.
	 *
	 * @param int      $limit   At most this many.
	 * @param int|null $timeout Seconds to wait for each (default: the setting).
	 * @return array [checked => how many got an answer, left => how many still wait, error].
	 */
	public static function recheck( $limit = 20, $timeout = null ) {
		global $wpdb;
		$report = array(
			'checked' => 0,
			'left'    => 0,
			'error'   => '',
		);
		if ( ! Moderation_Service_Settings::configured() ) {
			$report['left'] = self::count_to_recheck();
			return $report;
		}
		if ( get_transient( self::LOCK ) ) {
			$report['left']  = self::count_to_recheck();
			$report['error'] = __( 'A re-check is already running.', 'moderation-service' );
			return $report;
		}
		set_transient( self::LOCK, time(), 2 * MINUTE_IN_SECONDS );
		try {
			$ids    = $wpdb->get_col(
				$wpdb->prepare(
					"SELECT m.comment_id FROM {$wpdb->commentmeta} m INNER JOIN {$wpdb->comments} c ON c.comment_ID = m.comment_id WHERE m.meta_key = %s AND m.meta_value = '1' ORDER BY m.comment_id ASC LIMIT %d",
					self::META_RECHECK,
					max( 1, (int) $limit )
				)
			);
			$client = Moderation_Service_Client::from_settings( $timeout );
			foreach ( array_map( 'intval', $ids ) as $comment_id ) {
				$comment = get_comment( $comment_id, ARRAY_A );
				if ( ! is_array( $comment ) ) {
					continue;
				}
				if ( '0' !== (string) $comment['comment_approved'] ) {
					// A person decided in WordPress meanwhile: theirs stands.
					delete_comment_meta( $comment_id, self::META_RECHECK );
					continue;
				}
				$referrer = (string) get_comment_meta( $comment_id, self::META_REFERRER, true );
				$result   = $client->check_comment( self::payload( $comment, $referrer ) );
				self::record( $comment_id, $result, $referrer );
				if ( empty( $result['ok'] ) && ! empty( $result['retry'] ) ) {
					$report['error'] = $result['error'];
					break; // Still away: the next run tries again.
				}
				++$report['checked'];
				if ( ! empty( $result['ok'] ) ) {
					self::apply_status( $comment_id, $result['status'], false );
				}
			}
		} finally {
			delete_transient( self::LOCK );
		}
		$report['left'] = self::count_to_recheck();
		return $report;
	}

	/**
	 * Where no webhook secret is set: asks the service about comments it held for review
	 * (GET /comments/<id>, the public status: spam shows as pending there, so it stays held).
	 *
	 * @param int $limit At most this many.
	 */
	public static function poll( $limit = 20 ) {
		global $wpdb;
		if ( ! Moderation_Service_Settings::configured() ) {
			return;
		}
		$ids    = $wpdb->get_col(
			$wpdb->prepare(
				"SELECT m.comment_id FROM {$wpdb->commentmeta} m INNER JOIN {$wpdb->comments} c ON c.comment_ID = m.comment_id WHERE m.meta_key = %s AND m.meta_value = 'pending' AND c.comment_approved = '0' AND c.comment_date_gmt > %s ORDER BY m.comment_id DESC LIMIT %d",
				self::META_STATUS,
				gmdate( 'Y-m-d H:i:s', time() - 30 * DAY_IN_SECONDS ),
				max( 1, (int) $limit )
			)
		);
		$client = Moderation_Service_Client::from_settings();
		foreach ( array_map( 'intval', $ids ) as $comment_id ) {
			$service_id = (int) get_comment_meta( $comment_id, self::META_ID, true );
			if ( $service_id <= 0 ) {
				continue;
			}
			$status = $client->public_status( $service_id );
			if ( null === $status ) {
				break; // Unreachable: next time.
			}
			if ( 'approved' === $status || 'rejected' === $status ) {
				update_comment_meta( $comment_id, self::META_STATUS, $status );
				self::note( $comment_id, __( 'Decided by a moderator on the service (polled).', 'moderation-service' ) );
				self::apply_status( $comment_id, $status, true );
			}
		}
	}

	// --------------------------------------------------------------- statuses and reports.

	/**
	 * Gives a WordPress comment the status for the service's: published, held, spam or trash.
	 *
	 * @param int    $comment_id     The comment.
	 * @param string $service_status approved, pending, spam or rejected.
	 * @param bool   $by_person      Whether a moderator on the service decided it (then an
	 *                               approval publishes even where WordPress wants manual
	 *                               approval: that person was the manual approval).
	 * @return bool Whether the status changed.
	 */
	public static function apply_status( $comment_id, $service_status, $by_person ) {
		$current = wp_get_comment_status( $comment_id );
		if ( ! $current || 'deleted' === $current ) {
			return false;
		}
		switch ( $service_status ) {
			case 'approved':
				$target = ( ! $by_person && get_option( 'comment_moderation' ) ) ? 'hold' : 'approve';
				break;
			case 'pending':
				$target = 'hold';
				break;
			case 'spam':
			case 'rejected':
				if ( 'spam' === $current || 'trash' === $current ) {
					return false; // Refused either way; a person may have moved it on.
				}
				$target = 'spam' === $service_status ? 'spam' : Moderation_Service_Settings::rejected_status();
				break;
			default:
				return false;
		}
		$same = array(
			'approve' => 'approved',
			'hold'    => 'unapproved',
		);
		if ( isset( $same[ $target ] ) && $same[ $target ] === $current ) {
			return false;
		}
		self::$syncing = true;
		try {
			if ( 'spam' === $target ) {
				$changed = wp_spam_comment( $comment_id );
			} elseif ( 'trash' === $target ) {
				$changed = wp_trash_comment( $comment_id );
			} else {
				$changed = wp_set_comment_status( $comment_id, $target );
			}
		} finally {
			self::$syncing = false;
		}
		return (bool) $changed && ! is_wp_error( $changed );
	}

	/**
	 * A WordPress moderator changed a comment's status: tell the service (labels, and with a
	 * moderator token the decision on a comment it holds for review).
	 *
	 * @param string     $new_status approved, unapproved, spam or trash.
	 * @param string     $old_status The status before.
	 * @param WP_Comment $comment    The comment.
	 */
	public static function transitioned( $new_status, $old_status, $comment ) {
		if ( self::$syncing || $new_status === $old_status || ! $comment instanceof WP_Comment ) {
			return;
		}
		if ( ! Moderation_Service_Settings::configured() || ! in_array( $comment->comment_type, array( '', 'comment' ), true ) ) {
			return;
		}
		// Only a person's decision is a label: not cron, imports or other plugins.
		if ( ! is_user_logged_in() || ! current_user_can( 'moderate_comments' ) ) {
			return;
		}
		$comment_id = (int) $comment->comment_ID;
		update_comment_meta( $comment_id, self::META_LOCAL_CHANGE, time() );
		$service_status = (string) get_comment_meta( $comment_id, self::META_STATUS, true );

		$label  = '';
		$action = '';
		if ( 'spam' === $new_status ) {
			$label  = 'spam' === $service_status ? '' : 'spam';
			$action = 'reject_spam';
		} elseif ( 'spam' === $old_status && in_array( $new_status, array( 'approved', 'unapproved' ), true ) ) {
			$label  = 'ham'; // "Not spam".
			$action = 'approved' === $new_status ? 'approve' : '';
		} elseif ( 'approved' === $new_status ) {
			$label  = 'approved' === $service_status ? '' : 'ham';
			$action = 'approve';
		} elseif ( 'trash' === $new_status && in_array( $old_status, array( 'approved', 'unapproved' ), true ) ) {
			$label  = 'rejected' === $service_status ? '' : 'abuse';
			$action = 'reject_abuse';
		}
		if ( '' === $label && '' === $action ) {
			return;
		}

		if ( Moderation_Service_Client::$unreachable ) {
			self::note( $comment_id, __( 'Not sent: the service could not be reached.', 'moderation-service' ) );
			return;
		}
		$client = Moderation_Service_Client::from_settings( min( 5, (int) Moderation_Service_Settings::get( 'timeout' ) ) );
		$notes  = array();
		if ( 'spam' === $label || 'ham' === $label ) {
			$sent    = $client->submit_label( 'spam' === $label, self::akismet_fields( $comment ) );
			$notes[] = $sent['ok']
				/* translators: %s: spam or ham. */
				? sprintf( __( 'Label "%s" sent.', 'moderation-service' ), $label )
				/* translators: 1: spam or ham, 2: the error. */
				: sprintf( __( 'Label "%1$s" not sent: %2$s', 'moderation-service' ), $label, $sent['message'] );
		} elseif ( 'abuse' === $label ) {
			$sent    = $client->submit_abuse_label( $comment->comment_content, 'wordpress-comment-' . $comment_id );
			$notes[] = $sent['ok']
				? __( 'Label "abuse" sent.', 'moderation-service' )
				/* translators: %s: the error. */
				: sprintf( __( 'Label "abuse" not sent: %s', 'moderation-service' ), $sent['message'] );
		}
		$service_id = (int) get_comment_meta( $comment_id, self::META_ID, true );
		if ( '' !== $action && $service_id > 0 && 'pending' === $service_status && $client->has_moderator_token() ) {
			$user    = wp_get_current_user();
			$reason  = sprintf( 'WordPress: %s set it to %s', $user->user_login, $new_status );
			$decided = $client->decide( $service_id, $action, $reason );
			if ( $decided['ok'] ) {
				update_comment_meta( $comment_id, self::META_STATUS, $decided['status'] );
				/* translators: %s: approve, reject_spam or reject_abuse. */
				$notes[] = sprintf( __( 'Decision "%s" sent to the service.', 'moderation-service' ), $action );
			} else {
				/* translators: 1: approve, reject_spam or reject_abuse, 2: the error. */
				$notes[] = sprintf( __( 'Decision "%1$s" not sent: %2$s', 'moderation-service' ), $action, $decided['message'] );
			}
		}
		if ( $notes ) {
			self::note( $comment_id, implode( ' ', $notes ) );
		}
	}

	/**
	 * Keeps the latest note about what was sent or received for a comment.
	 *
	 * @param int    $comment_id The comment.
	 * @param string $text       What happened.
	 */
	public static function note( $comment_id, $text ) {
		update_comment_meta(
			$comment_id,
			self::META_NOTE,
			array(
				'time' => time(),
				'text' => substr( (string) $text, 0, 1000 ),
			)
		);
	}

	/**
	 * The WordPress comment the service knows by this id.
	 *
	 * @param int $service_id The service's comment id.
	 * @return int The WordPress comment id, or 0.
	 */
	public static function find_by_service_id( $service_id ) {
		global $wpdb;
		return (int) $wpdb->get_var(
			$wpdb->prepare(
				"SELECT comment_id FROM {$wpdb->commentmeta} WHERE meta_key = %s AND meta_value = %s ORDER BY meta_id DESC LIMIT 1",
				self::META_ID,
				(string) absint( $service_id )
			)
		);
	}

	// ---------------------------------------------------------------------------- helpers.

	/**
	 * Akismet's fields for a label (submit-spam, submit-ham).
	 *
	 * @param WP_Comment $comment The comment.
	 * @return array
	 */
	private static function akismet_fields( WP_Comment $comment ) {
		$ip = (string) $comment->comment_author_IP;
		return array(
			'blog'                 => home_url( '/' ),
			'user_ip'              => '' !== $ip ? $ip : '0.0.0.0',
			'user_agent'           => (string) $comment->comment_agent,
			'referrer'             => (string) get_comment_meta( $comment->comment_ID, self::META_REFERRER, true ),
			'permalink'            => (string) get_permalink( (int) $comment->comment_post_ID ),
			'comment_type'         => 'comment',
			'comment_author'       => (string) $comment->comment_author,
			'comment_author_email' => (string) $comment->comment_author_email,
			'comment_author_url'   => (string) $comment->comment_author_url,
			'comment_content'      => (string) $comment->comment_content,
			'comment_date_gmt'     => (string) $comment->comment_date_gmt,
			'blog_lang'            => get_locale(),
			'blog_charset'         => (string) get_option( 'blog_charset' ),
		);
	}

	/**
	 * Whether WordPress trusts the author anyway: a moderator, or the post's own author.
	 *
	 * @param array $data The comment's fields.
	 * @return bool
	 */
	private static function trusted_author( array $data ) {
		$user_id = isset( $data['user_id'] ) ? absint( $data['user_id'] ) : 0;
		if ( $user_id <= 0 ) {
			return false;
		}
		$user = get_userdata( $user_id );
		if ( ! $user ) {
			return false;
		}
		$post = isset( $data['comment_post_ID'] ) ? get_post( absint( $data['comment_post_ID'] ) ) : null;
		return $user->has_cap( 'moderate_comments' ) || ( $post && (int) $post->post_author === $user_id );
	}

	/**
	 * Identifies a comment between the approval filter and its insertion.
	 *
	 * @param array $data The comment's fields (unslashed).
	 * @return string
	 */
	private static function fingerprint( array $data ) {
		return md5(
			( isset( $data['comment_post_ID'] ) ? absint( $data['comment_post_ID'] ) : 0 ) . "\0"
			. ( isset( $data['comment_author_email'] ) ? trim( (string) $data['comment_author_email'] ) : '' ) . "\0"
			. ( isset( $data['comment_content'] ) ? trim( (string) $data['comment_content'] ) : '' )
		);
	}

	/**
	 * A field as text; one line unless it is the comment itself.
	 *
	 * @param array  $data     The comment's fields.
	 * @param string $name     The field.
	 * @param bool   $one_line Whether to drop control characters (line breaks too).
	 * @return string
	 */
	private static function field( array $data, $name, $one_line = true ) {
		$value = isset( $data[ $name ] ) && is_scalar( $data[ $name ] ) ? (string) $data[ $name ] : '';
		return $one_line ? trim( self::one_line( $value ) ) : $value;
	}

	/**
	 * The text without control characters.
	 *
	 * @param string $text Any text.
	 * @return string
	 */
	private static function one_line( $text ) {
		return (string) preg_replace( '/[\x00-\x1f\x7f]/', '', (string) $text );
	}

	/**
	 * The referrer the commenter's browser sent with the comment form.
	 *
	 * @return string
	 */
	private static function referrer() {
		if ( empty( $_SERVER['HTTP_REFERER'] ) || ! is_string( $_SERVER['HTTP_REFERER'] ) ) {
			return '';
		}
		return substr( esc_url_raw( wp_unslash( $_SERVER['HTTP_REFERER'] ) ), 0, 2048 );
	}
}
