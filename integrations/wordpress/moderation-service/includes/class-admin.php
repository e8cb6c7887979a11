<?php
/**
 * The admin side: Settings > Moderation service, and the service's column in Comments.
 *
 * @package ModerationService
 */

defined( 'ABSPATH' ) || exit;

/**
 * The settings page (with "Test connection" and "Re-check held comments now"), the comment
 * list's column, a notice while comments wait for a re-check, and a re-check when the
 * Comments screen opens (at most once a minute, with a short timeout).
 */
class Moderation_Service_Admin {

	const PAGE             = 'moderation-service';
	const GROUP            = 'moderation_service';
	const COLUMN           = 'moderation_service';
	const RECHECK_THROTTLE = 'moderation_service_recheck_on_load';

	/**
	 * Hooks in.
	 */
	public static function register() {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_init', array( __CLASS__, 'settings' ) );
		add_action( 'admin_init', array( __CLASS__, 'privacy_policy' ) );
		add_action( 'admin_post_moderation_service_test', array( __CLASS__, 'test_connection' ) );
		add_action( 'admin_post_moderation_service_recheck', array( __CLASS__, 'recheck_now' ) );
		add_filter( 'manage_edit-comments_columns', array( __CLASS__, 'columns' ) );
		add_action( 'manage_comments_custom_column', array( __CLASS__, 'column' ), 10, 2 );
		add_action( 'load-edit-comments.php', array( __CLASS__, 'recheck_on_load' ) );
		add_action( 'admin_notices', array( __CLASS__, 'notices' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( MODERATION_SERVICE_FILE ), array( __CLASS__, 'action_links' ) );
	}

	/**
	 * Settings > Moderation service.
	 */
	public static function menu() {
		add_options_page(
			__( 'Moderation service', 'moderation-service' ),
			__( 'Moderation service', 'moderation-service' ),
			'manage_options',
			self::PAGE,
			array( __CLASS__, 'page' )
		);
	}

	/**
	 * The option, saved through options.php (its nonce and the manage_options check).
	 */
	public static function settings() {
		register_setting(
			self::GROUP,
			Moderation_Service_Settings::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( 'Moderation_Service_Settings', 'sanitize' ),
				'default'           => Moderation_Service_Settings::defaults(),
				'show_in_rest'      => false,
			)
		);
	}

	/**
	 * Suggested text for the site's privacy policy (Settings > Privacy).
	 */
	public static function privacy_policy() {
		if ( ! function_exists( 'wp_add_privacy_policy_content' ) ) {
			return;
		}
		wp_add_privacy_policy_content(
			__( 'Moderation service', 'moderation-service' ),
			'<p>' . esc_html__( 'When you leave a comment, its text, your name, email address, website, IP address, browser user agent and the page you came from are sent to this site\'s own comment moderation service, which checks the comment for spam and abuse and keeps it with its decision.', 'moderation-service' ) . '</p>'
		);
	}

	/**
	 * A "Settings" link on the Plugins screen.
	 *
	 * @param array $links The plugin's links.
	 * @return array
	 */
	public static function action_links( $links ) {
		$url = admin_url( 'options-general.php?page=' . self::PAGE );
		array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'moderation-service' ) . '</a>' );
		return $links;
	}

	/**
	 * The settings page.
	 */
	public static function page() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage options for this site.', 'moderation-service' ), 403 );
		}
		$settings = Moderation_Service_Settings::get();
		$option   = Moderation_Service_Settings::OPTION;
		$result   = get_transient( self::result_key() );
		if ( is_array( $result ) ) {
			delete_transient( self::result_key() );
		}
		$waiting      = Moderation_Service_Comments::count_to_recheck();
		$last_webhook = (int) get_option( 'moderation_service_last_webhook', 0 );
		?>
		<div class="wrap">
			<h1><?php esc_html_e( 'Moderation service', 'moderation-service' ); ?></h1>
			<p><?php esc_html_e( 'Each new comment is sent to your moderation service, which publishes it, holds it for moderation, or files it as spam (or, refused as abuse, in the trash). Moderators\' decisions here are sent back as labels; the service\'s decisions come back through its signed webhook.', 'moderation-service' ); ?></p>

			<?php if ( is_array( $result ) && isset( $result['lines'] ) ) : ?>
				<div class="notice <?php echo ! empty( $result['ok'] ) ? 'notice-success' : 'notice-error'; ?>" id="moderation-service-result">
					<?php foreach ( (array) $result['lines'] as $line ) : ?>
						<p><?php echo esc_html( (string) $line ); ?></p>
					<?php endforeach; ?>
				</div>
			<?php endif; ?>

			<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>">
				<?php settings_fields( self::GROUP ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="moderation-service-url"><?php esc_html_e( 'Service URL', 'moderation-service' ); ?></label></th>
						<td>
							<input type="url" class="regular-text code" id="moderation-service-url" name="<?php echo esc_attr( $option ); ?>[url]" value="<?php echo esc_attr( $settings['url'] ); ?>" placeholder="http://127.0.0.1:8000" />
							<p class="description"><?php esc_html_e( 'Where the service answers, without a trailing slash.', 'moderation-service' ); ?></p>
						</td>
					</tr>
					<?php
					self::secret_row( 'site_key', __( 'Site key', 'moderation-service' ), __( 'Made on the service with: moderation site-key create NAME', 'moderation-service' ), $settings );
					self::secret_row( 'webhook_secret', __( 'Webhook secret', 'moderation-service' ), __( 'One of the service\'s MODERATION_WEBHOOK_SECRETS (several, separated by spaces, while rotating).', 'moderation-service' ), $settings );
					self::secret_row( 'moderator_token', __( 'Moderator token (optional)', 'moderation-service' ), __( 'From: moderation moderator token NAME. With it, a decision made here on a comment the service holds for review is also made on the service; without it, only labels are sent.', 'moderation-service' ), $settings );
					?>
					<tr>
						<th scope="row"><label for="moderation-service-rejected"><?php esc_html_e( 'Refused as abuse', 'moderation-service' ); ?></label></th>
						<td>
							<select id="moderation-service-rejected" name="<?php echo esc_attr( $option ); ?>[rejected_to]">
								<option value="trash" <?php selected( $settings['rejected_to'], 'trash' ); ?>><?php esc_html_e( 'Trash', 'moderation-service' ); ?></option>
								<option value="spam" <?php selected( $settings['rejected_to'], 'spam' ); ?>><?php esc_html_e( 'Spam', 'moderation-service' ); ?></option>
							</select>
							<p class="description"><?php esc_html_e( 'Spam always goes to Spam.', 'moderation-service' ); ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><label for="moderation-service-timeout"><?php esc_html_e( 'Timeout (seconds)', 'moderation-service' ); ?></label></th>
						<td>
							<input type="number" min="1" max="30" class="small-text" id="moderation-service-timeout" name="<?php echo esc_attr( $option ); ?>[timeout]" value="<?php echo esc_attr( (string) $settings['timeout'] ); ?>" />
							<p class="description"><?php esc_html_e( 'A comment the service does not answer within this time is held and checked again later.', 'moderation-service' ); ?></p>
						</td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>

			<h2><?php esc_html_e( 'On the service', 'moderation-service' ); ?></h2>
			<p><?php esc_html_e( 'Set these on the service and run its webhook deliverer (moderation webhooks deliver) beside it:', 'moderation-service' ); ?></p>
			<p><code>MODERATION_WEBHOOK_URL=<?php echo esc_html( Moderation_Service_Webhook::url() ); ?></code></p>
			<p><code>MODERATION_WEBHOOK_SECRETS=<?php esc_html_e( '(the webhook secret above)', 'moderation-service' ); ?></code></p>
			<p>
				<?php
				echo esc_html(
					$last_webhook > 0
						/* translators: %s: how long ago. */
						? sprintf( __( 'Last webhook received %s ago.', 'moderation-service' ), human_time_diff( $last_webhook ) )
						: __( 'No webhook received yet.', 'moderation-service' )
				);
				?>
			</p>

			<h2><?php esc_html_e( 'Check', 'moderation-service' ); ?></h2>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" style="display:inline">
				<input type="hidden" name="action" value="moderation_service_test" />
				<?php wp_nonce_field( 'moderation_service_test' ); ?>
				<?php submit_button( __( 'Test connection', 'moderation-service' ), 'secondary', 'moderation-service-test', false ); ?>
			</form>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" style="display:inline">
				<input type="hidden" name="action" value="moderation_service_recheck" />
				<?php wp_nonce_field( 'moderation_service_recheck' ); ?>
				<?php submit_button( __( 'Re-check held comments now', 'moderation-service' ), 'secondary', 'moderation-service-recheck', false ); ?>
			</form>
			<p>
				<?php
				/* translators: %d: a number of comments. */
				echo esc_html( sprintf( _n( '%d comment waits to be checked by the service.', '%d comments wait to be checked by the service.', $waiting, 'moderation-service' ), $waiting ) );
				?>
			</p>
		</div>
		<?php
	}

	/**
	 * A password field whose stored value is never shown; empty keeps it.
	 *
	 * @param string $name     The setting.
	 * @param string $label    Its label.
	 * @param string $help     The description.
	 * @param array  $settings The settings.
	 */
	private static function secret_row( $name, $label, $help, array $settings ) {
		$option = Moderation_Service_Settings::OPTION;
		$id     = 'moderation-service-' . str_replace( '_', '-', $name );
		$is_set = '' !== (string) $settings[ $name ];
		?>
		<tr>
			<th scope="row"><label for="<?php echo esc_attr( $id ); ?>"><?php echo esc_html( $label ); ?></label></th>
			<td>
				<input type="password" class="regular-text code" id="<?php echo esc_attr( $id ); ?>" name="<?php echo esc_attr( $option . '[' . $name . ']' ); ?>" value="" autocomplete="off" placeholder="<?php echo esc_attr( $is_set ? __( '(set: leave empty to keep it)', 'moderation-service' ) : '' ); ?>" />
				<?php if ( $is_set ) : ?>
					<label><input type="checkbox" name="<?php echo esc_attr( $option . '[forget_' . $name . ']' ); ?>" value="1" /> <?php esc_html_e( 'Remove', 'moderation-service' ); ?></label>
				<?php endif; ?>
				<p class="description"><?php echo esc_html( $help ); ?></p>
			</td>
		</tr>
		<?php
	}

	/**
	 * "Test connection": GET /readyz, the site key (verify-key) and the moderator token.
	 */
	public static function test_connection() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'moderation-service' ), 403 );
		}
		check_admin_referer( 'moderation_service_test' );
		$lines = array();
		$ok    = true;
		if ( '' === (string) Moderation_Service_Settings::get( 'url' ) ) {
			$ok      = false;
			$lines[] = __( 'Set the service URL first.', 'moderation-service' );
		} else {
			$client  = Moderation_Service_Client::from_settings( 5 );
			$ready   = $client->readiness();
			$ok      = $ready['ok'];
			$lines[] = $ready['message'];
			if ( '' === (string) Moderation_Service_Settings::get( 'site_key' ) ) {
				$ok      = false;
				$lines[] = __( 'No site key is set.', 'moderation-service' );
			} else {
				$key     = $client->verify_key( home_url( '/' ) );
				$ok      = $ok && $key['ok'];
				$lines[] = $key['message'];
			}
			if ( $client->has_moderator_token() ) {
				$token   = $client->verify_moderator_token();
				$ok      = $ok && $token['ok'];
				$lines[] = $token['message'];
			}
			if ( ! Moderation_Service_Settings::webhook_secrets() ) {
				$lines[] = __( 'No webhook secret is set: decisions made on the service are polled every five minutes instead (spam stays held).', 'moderation-service' );
			}
		}
		self::finish( $ok, $lines );
	}

	/**
	 * "Re-check held comments now".
	 */
	public static function recheck_now() {
		if ( ! current_user_can( 'moderate_comments' ) || ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'moderation-service' ), 403 );
		}
		check_admin_referer( 'moderation_service_recheck' );
		$report = Moderation_Service_Comments::recheck( 50 );
		/* translators: 1: comments checked, 2: comments still waiting. */
		$lines = array( sprintf( __( 'Checked %1$d held comments; %2$d still wait.', 'moderation-service' ), $report['checked'], $report['left'] ) );
		if ( '' !== $report['error'] ) {
			$lines[] = $report['error'];
		}
		self::finish( '' === $report['error'], $lines );
	}

	/**
	 * Back to the settings page with the result.
	 *
	 * @param bool     $ok    Whether all went well.
	 * @param string[] $lines What to show.
	 */
	private static function finish( $ok, array $lines ) {
		set_transient(
			self::result_key(),
			array(
				'ok'    => (bool) $ok,
				'lines' => array_map( 'strval', $lines ),
			),
			5 * MINUTE_IN_SECONDS
		);
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::PAGE ) );
		exit;
	}

	/**
	 * Where this user's last result waits.
	 *
	 * @return string
	 */
	private static function result_key() {
		return 'moderation_service_result_' . get_current_user_id();
	}

	// ------------------------------------------------------------------------ comment list.

	/**
	 * Adds the column to Comments.
	 *
	 * @param array $columns The list's columns.
	 * @return array
	 */
	public static function columns( $columns ) {
		$columns[ self::COLUMN ] = __( 'Moderation service', 'moderation-service' );
		return $columns;
	}

	/**
	 * The column: the service's status, scores and reasons, and anything waiting or failed.
	 *
	 * @param string $column     The column.
	 * @param int    $comment_id The comment.
	 */
	public static function column( $column, $comment_id ) {
		if ( self::COLUMN !== $column ) {
			return;
		}
		$comment_id = (int) $comment_id;
		$status     = (string) get_comment_meta( $comment_id, Moderation_Service_Comments::META_STATUS, true );
		$service_id = (int) get_comment_meta( $comment_id, Moderation_Service_Comments::META_ID, true );
		$scores     = get_comment_meta( $comment_id, Moderation_Service_Comments::META_SCORES, true );
		$reasons    = get_comment_meta( $comment_id, Moderation_Service_Comments::META_REASONS, true );
		$recheck    = '1' === get_comment_meta( $comment_id, Moderation_Service_Comments::META_RECHECK, true );
		$error      = (string) get_comment_meta( $comment_id, Moderation_Service_Comments::META_ERROR, true );
		$note       = get_comment_meta( $comment_id, Moderation_Service_Comments::META_NOTE, true );
		$names      = array(
			'approved' => __( 'Published', 'moderation-service' ),
			'pending'  => __( 'Held for review', 'moderation-service' ),
			'spam'     => __( 'Spam', 'moderation-service' ),
			'rejected' => __( 'Refused (abuse)', 'moderation-service' ),
		);

		echo '<div class="moderation-service-column">';
		if ( '' !== $status ) {
			echo '<strong class="moderation-service-status moderation-service-status-' . esc_attr( $status ) . '">' . esc_html( isset( $names[ $status ] ) ? $names[ $status ] : $status ) . '</strong>';
			if ( $service_id > 0 ) {
				/* translators: %d: the service's comment id. */
				echo ' <span class="description">' . esc_html( sprintf( __( '(#%d)', 'moderation-service' ), $service_id ) ) . '</span>';
			}
			echo '<br />';
		}
		if ( is_array( $scores ) && $scores ) {
			$parts = array();
			foreach ( $scores as $head => $value ) {
				$parts[] = sprintf( '%s %s', $head, number_format_i18n( (float) $value, 3 ) );
			}
			echo '<span class="moderation-service-scores">' . esc_html( implode( ' · ', $parts ) ) . '</span><br />';
		}
		if ( is_array( $reasons ) && $reasons ) {
			echo '<ul class="moderation-service-reasons" style="margin:0">';
			foreach ( $reasons as $reason ) {
				if ( ! is_array( $reason ) || ! isset( $reason['code'] ) ) {
					continue;
				}
				$detail = isset( $reason['detail'] ) ? (string) $reason['detail'] : '';
				echo '<li><code>' . esc_html( (string) $reason['code'] ) . '</code>' . ( '' !== $detail ? ' ' . esc_html( $detail ) : '' ) . '</li>';
			}
			echo '</ul>';
		}
		if ( $recheck ) {
			echo '<em class="moderation-service-recheck">' . esc_html__( 'Not checked yet: held until the service answers.', 'moderation-service' ) . '</em><br />';
		}
		if ( '' !== $error ) {
			echo '<span class="moderation-service-error">' . esc_html( $error ) . '</span><br />';
		}
		if ( is_array( $note ) && isset( $note['text'] ) ) {
			echo '<span class="description">' . esc_html( (string) $note['text'] ) . '</span>';
		}
		if ( '' === $status && ! $recheck && '' === $error ) {
			echo '<span class="description">' . esc_html__( 'Not sent', 'moderation-service' ) . '</span>';
		}
		echo '</div>';
	}

	/**
	 * Opening Comments re-checks held comments too (once a minute at most, 3 s per comment).
	 */
	public static function recheck_on_load() {
		if ( ! current_user_can( 'moderate_comments' ) || ! Moderation_Service_Settings::configured() ) {
			return;
		}
		if ( get_transient( self::RECHECK_THROTTLE ) || Moderation_Service_Comments::count_to_recheck() === 0 ) {
			return;
		}
		set_transient( self::RECHECK_THROTTLE, 1, MINUTE_IN_SECONDS );
		Moderation_Service_Comments::recheck( 5, 3 );
	}

	/**
	 * On Comments and the dashboard: how many comments wait for the service.
	 */
	public static function notices() {
		$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		if ( ! $screen || ! in_array( $screen->id, array( 'edit-comments', 'dashboard' ), true ) || ! current_user_can( 'moderate_comments' ) ) {
			return;
		}
		if ( ! Moderation_Service_Settings::configured() ) {
			if ( current_user_can( 'manage_options' ) ) {
				echo '<div class="notice notice-warning"><p>' . esc_html__( 'Moderation service: set the service URL and site key in Settings > Moderation service; until then comments are not sent.', 'moderation-service' ) . '</p></div>';
			}
			return;
		}
		$waiting = Moderation_Service_Comments::count_to_recheck();
		if ( $waiting > 0 ) {
			/* translators: %d: a number of comments. */
			$text = sprintf( _n( 'Moderation service: %d comment is held until the service can check it.', 'Moderation service: %d comments are held until the service can check them.', $waiting, 'moderation-service' ), $waiting );
			echo '<div class="notice notice-warning"><p>' . esc_html( $text ) . '</p></div>';
		}
	}
}
