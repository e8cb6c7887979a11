<?php
/**
 * The plugin's settings: one option holding the service's address, the keys and the choices.
 *
 * @package ModerationService
 */

defined( 'ABSPATH' ) || exit;

/**
 * Reads, checks and cleans the `moderation_service_settings` option.
 */
class Moderation_Service_Settings {

	const OPTION = 'moderation_service_settings';

	/**
	 * The settings a new site starts with.
	 *
	 * @return array
	 */
	public static function defaults() {
		return array(
			'url'             => '',      // The service's base URL, e.g. http://127.0.0.1:8000.
			'site_key'        => '',      // A key from `moderation site-key create NAME`.
			'webhook_secret'  => '',      // One of MODERATION_WEBHOOK_SECRETS (several: space separated).
			'moderator_token' => '',      // Optional: `moderation moderator token NAME`.
			'rejected_to'     => 'trash', // Where a comment refused as abuse goes: trash or spam.
			'timeout'         => 5,       // Seconds to wait for the service.
		);
	}

	/**
	 * All settings, or one.
	 *
	 * @param string|null $name A setting's name, or null for all of them.
	 * @return mixed
	 */
	public static function get( $name = null ) {
		$stored   = get_option( self::OPTION, array() );
		$settings = array_merge( self::defaults(), is_array( $stored ) ? $stored : array() );
		if ( null === $name ) {
			return $settings;
		}
		return isset( $settings[ $name ] ) ? $settings[ $name ] : null;
	}

	/**
	 * Whether comments are sent to the service: it needs an address and a site key.
	 *
	 * @return bool
	 */
	public static function configured() {
		return '' !== (string) self::get( 'url' ) && '' !== (string) self::get( 'site_key' );
	}

	/**
	 * The webhook secrets the signature may be made with (rotation: old and new side by side).
	 *
	 * @return string[]
	 */
	public static function webhook_secrets() {
		$raw = (string) self::get( 'webhook_secret' );
		return array_values( array_filter( preg_split( '/[\s,]+/', $raw ) ) );
	}

	/**
	 * Whether every secret in the Standard Webhooks form (whsec_ and base64) decodes to a key of
	 * at least 24 bytes, as the service requires; other secrets are used as they are.
	 *
	 * @param string $value One or more secrets, separated by spaces or commas.
	 * @return bool
	 */
	public static function scheme_secrets_decode( $value ) {
		foreach ( array_filter( preg_split( '/[\s,]+/', (string) $value ) ) as $secret ) {
			if ( 0 === strpos( $secret, 'whsec_' ) ) {
				$key = base64_decode( substr( $secret, 6 ), true );
				if ( false === $key || strlen( $key ) < 24 ) {
					return false;
				}
			}
		}
		return true;
	}

	/**
	 * Where a comment the service refused as abuse goes: 'trash', or 'spam' where the trash is
	 * off (EMPTY_TRASH_DAYS is 0, so trashing would delete it at once).
	 *
	 * @return string
	 */
	public static function rejected_status() {
		if ( 'spam' === self::get( 'rejected_to' ) || ! EMPTY_TRASH_DAYS ) {
			return 'spam';
		}
		return 'trash';
	}

	/**
	 * Cleans what the settings form posted (register_setting's sanitize callback).
	 *
	 * Secrets left empty keep their stored value; the "forget" boxes remove them.
	 *
	 * @param mixed $input The posted values.
	 * @return array
	 */
	public static function sanitize( $input ) {
		$current = self::get();
		if ( ! is_array( $input ) ) {
			return $current;
		}
		$clean = $current;

		if ( isset( $input['url'] ) ) {
			$url = trim( (string) $input['url'] );
			if ( '' === $url ) {
				$clean['url'] = '';
			} elseif ( preg_match( '#^https?://[^\s/?\#@]+(/[^\s?\#]*)?$#i', $url ) ) {
				$clean['url'] = untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
			} else {
				add_settings_error(
					self::OPTION,
					'moderation_service_url',
					__( 'The service URL must start with http:// or https:// (for example http://127.0.0.1:8000).', 'moderation-service' )
				);
			}
		}

		foreach ( array( 'site_key', 'webhook_secret', 'moderator_token' ) as $secret ) {
			if ( ! empty( $input[ 'forget_' . $secret ] ) ) {
				$clean[ $secret ] = '';
				continue;
			}
			$value = isset( $input[ $secret ] ) ? trim( (string) $input[ $secret ] ) : '';
			if ( '' === $value ) {
				continue; // Empty: keep what is stored (secrets are never shown back).
			}
			$pattern = 'webhook_secret' === $secret ? '/^[\x21-\x7e]+(?:[\s,]+[\x21-\x7e]+)*$/' : '/^[A-Za-z0-9._~+\/=-]{8,512}$/';
			if ( strlen( $value ) > 2048 || ! preg_match( $pattern, $value ) ) {
				add_settings_error(
					self::OPTION,
					'moderation_service_' . $secret,
					/* translators: %s: a setting's name. */
					sprintf( __( 'The %s was not saved: it contains characters it cannot have.', 'moderation-service' ), self::label( $secret ) )
				);
				continue;
			}
			if ( 'webhook_secret' === $secret && ! self::scheme_secrets_decode( $value ) ) {
				add_settings_error(
					self::OPTION,
					'moderation_service_' . $secret,
					__( 'The webhook secret was not saved: a secret starting with whsec_ must be base64 of at least 24 bytes, as `moderation webhooks new-secret` prints it.', 'moderation-service' )
				);
				continue;
			}
			$clean[ $secret ] = $value;
		}

		if ( isset( $input['rejected_to'] ) ) {
			$clean['rejected_to'] = 'spam' === $input['rejected_to'] ? 'spam' : 'trash';
		}
		if ( isset( $input['timeout'] ) ) {
			$clean['timeout'] = max( 1, min( 30, absint( $input['timeout'] ) ) );
		}
		return $clean;
	}

	/**
	 * A setting's name as people read it.
	 *
	 * @param string $name The setting.
	 * @return string
	 */
	public static function label( $name ) {
		$labels = array(
			'url'             => __( 'service URL', 'moderation-service' ),
			'site_key'        => __( 'site key', 'moderation-service' ),
			'webhook_secret'  => __( 'webhook secret', 'moderation-service' ),
			'moderator_token' => __( 'moderator token', 'moderation-service' ),
		);
		return isset( $labels[ $name ] ) ? $labels[ $name ] : $name;
	}
}
